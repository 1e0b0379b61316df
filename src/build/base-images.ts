import type { ImageRecord, ImageStore } from '../images/types.js';
import type { Credentials, Registries, RegistryClientSource, RequestAuth, TransferProgress } from '../registry/types.js';
import type { LazyBase } from '../worker/types.js';
import type { ProgressEvent } from '../solver/types.js';
import { TbuildError, isTbuildError } from '../errors.js';
import { sha256, type Digest } from '../util/digest.js';
import { formatPlatform, hostPlatform, platformOfConfig, samePlatform, type Platform } from '../util/platform.js';
import type { ImageLookup } from '../frontend/dockerfile/context.js';

export interface BaseImageOptions {
  /** `--pull`: fetch every base image from its registry, even when one is stored. */
  pull?: boolean;
  /** Credentials per registry host (X-Registry-Config); else the engine's own. */
  auth?: RequestAuth[];
  /** Credentials for a host not in `auth`, asked when a pull needs them (the buildx client's session). */
  authLookup?: (host: string) => Promise<Credentials | undefined>;
  buildId: string;
  emit: (e: ProgressEvent) => void;
  /**
   * Resolve a missing image on its registry (config and layer list only) and pull its layers when
   * a step first needs them, as BuildKit does. Without it a missing image is pulled at once.
   */
  lazy?: { clients: RegistryClientSource; bases: Map<Digest, LazyBase>; images: Pick<ImageStore, 'get' | 'tag'> };
}

/**
 * The image lookup a build converts with: the local store first (with `--pull`, the registry
 * first), and on a miss a pull from the image's registry, shown as its own step with each layer's
 * bytes, as BuildKit shows `FROM` downloads. One pull per name per build.
 */
export function pullingLookup(images: Pick<ImageStore, 'get'>, registries: Pick<Registries, 'pull'>, opts: BaseImageOptions): ImageLookup {
  const once = new Map<string, Promise<ImageRecord | undefined>>();
  const memo = (key: string, make: () => Promise<ImageRecord | undefined>): Promise<ImageRecord | undefined> => {
    let p = once.get(key);
    if (!p) {
      p = make();
      once.set(key, p);
    }
    return p;
  };
  // the host's platform asked for or implied is one lookup (one vertex of that name)
  const keyOf = (kind: string, ref: string, platform?: Platform): string => `${kind}\0${ref}\0${formatPlatform(platform ?? hostPlatform())}`;
  return {
    async get(ref, platform) {
      // An id (or id prefix) names a local image only.
      if (/^(sha256:)?[0-9a-f]{12,64}$/.test(ref)) return images.get(ref);
      if (opts.pull) return memo(keyOf('pull', ref, platform), () => pullBase(registries, ref, opts, platform));
      const local = await images.get(ref);
      const has = local ? platformOfConfig(local.config) : undefined;
      if (local && (!platform || !has || samePlatform(has, platform))) return local;
      // The stored image is another platform's: that one keeps the name, the wanted one is used by id.
      const keepName = local !== undefined;
      const lazy = opts.lazy;
      const found = lazy
        ? memo(keyOf('resolve', ref, platform), () => resolveBase(ref, lazy, registries, opts, platform, keepName))
        : memo(keyOf('pull', ref, platform), () => pullBase(registries, ref, opts, platform));
      if (!has || !platform) return found;
      return found.catch((err: unknown) => {
        if (isTbuildError(err, 'TB_BUILD_CANCELLED')) throw err;
        throw new TbuildError(
          'TB_PLATFORM_NOT_FOUND',
          `${ref}: the stored image is ${formatPlatform(has)}, not ${formatPlatform(platform)}, and looking that platform up on its registry failed: ${(err as Error).message}`,
          { cause: err, details: { ref, platform: formatPlatform(platform) } },
        );
      });
    },
  };
}

/** `linux/arm64 ` when a base is looked up for another platform than this machine's (each is a vertex of its own). */
const foreignPrefix = (platform: Platform | undefined): string => (platform && !samePlatform(platform, hostPlatform()) ? `${formatPlatform(platform)} ` : '');

/**
 * `[internal] load metadata for REF`: the image's config from its registry, no layers. The build
 * plans on it; its layers are pulled (exactly that image, by digest) when a step needs them.
 */
async function resolveBase(
  ref: string,
  lazy: NonNullable<BaseImageOptions['lazy']>,
  registries: Pick<Registries, 'pull'>,
  opts: BaseImageOptions,
  platform?: Platform,
  keepName = false,
): Promise<ImageRecord | undefined> {
  // as BuildKit names a platform's metadata vertex in a cross-platform build
  const name = `[${foreignPrefix(platform)}internal] load metadata for ${ref}`;
  const id = sha256(`${opts.buildId}\0${name}`);
  const started = Date.now();
  opts.emit({ type: 'vertex', vertex: { id, name, inputs: [], started } });
  try {
    const [{ parseReference }, { resolveImage }] = await Promise.all([import('../images/reference.js'), import('../registry/pull.js')]);
    const host = parseReference(ref).domain;
    const auth = await authFor(host, opts);
    const { client, release } = await lazy.clients.openClient(auth);
    const resolved = await resolveImage(client, ref, platform).finally(release);
    opts.emit({ type: 'vertex', vertex: { id, name, inputs: [], started, completed: Date.now() } });
    // the same image under another name is here already
    const local = await lazy.images.get(resolved.id);
    if (local) return local;
    let pulled: Promise<ImageRecord> | undefined;
    lazy.bases.set(resolved.id, {
      ref,
      diffIds: resolved.diffIds,
      ...(resolved.config.created ? { created: resolved.config.created } : {}),
      pull: (onStatus) => {
        pulled ??= (async () => {
          const res = await registries.pull(resolved.pinned, {
            ...(auth ? { auth } : {}),
            ...(platform ? { platform: formatPlatform(platform) } : {}),
            onProgress: (p) => {
              if (p.id === undefined || p.current === undefined) return;
              onStatus?.({ id: `sha256:${p.id}`, current: p.current, ...(p.total !== undefined ? { total: p.total, completed: p.current === p.total } : {}) });
            },
          });
          if (res.image.id !== resolved.id) {
            throw new TbuildError('TB_REGISTRY_PROTOCOL', `${ref}: ${resolved.pinned} gave image ${res.image.id}, not the ${resolved.id} it resolved to`);
          }
          // as an eager pull would have left it: under the name the Dockerfile used
          if (!keepName) await lazy.images.tag(res.image.id, ref).catch(() => {});
          return res.image;
        })();
        return pulled;
      },
    });
    return { id: resolved.id, config: resolved.config, layers: [], names: [], repoDigests: [resolved.pinned], created: new Date().toISOString() };
  } catch (err) {
    opts.emit({ type: 'vertex', vertex: { id, name, inputs: [], started, completed: Date.now(), error: (err as Error).message } });
    throw baseError(err, ref);
  }
}

function baseError(err: unknown, ref: string): unknown {
  // "Not in the store, not on its registry" reads best as the image not being found.
  if (isTbuildError(err, 'TB_REGISTRY_NOT_FOUND')) {
    return new TbuildError('TB_IMAGE_NOT_FOUND', `${ref}: not in the local store, and ${err.message}`, { cause: err, details: { ref } });
  }
  if (isTbuildError(err)) {
    return new TbuildError(err.code, `failed to resolve source metadata for ${ref}: ${err.message}`, { cause: err, details: { ...err.details, ref } });
  }
  return err;
}

async function pullBase(registries: Pick<Registries, 'pull'>, ref: string, opts: BaseImageOptions, platform?: Platform): Promise<ImageRecord | undefined> {
  const name = `[${foreignPrefix(platform)}internal] pull ${ref}`;
  const id = sha256(`${opts.buildId}\0${name}`);
  const started = Date.now();
  opts.emit({ type: 'vertex', vertex: { id, name, inputs: [], started } });
  const onProgress = (p: TransferProgress): void => {
    if (p.id === undefined || p.total === undefined || p.current === undefined) return;
    opts.emit({ type: 'status', vertex: id, id: `sha256:${p.id}`, name: p.status.toLowerCase(), current: p.current, total: p.total, completed: p.current === p.total });
  };
  try {
    let host: string | undefined;
    try {
      const { parseReference } = await import('../images/reference.js');
      host = parseReference(ref).domain;
    } catch {
      host = undefined;
    }
    const auth = await authFor(host, opts);
    const res = await registries.pull(ref, { onProgress, ...(auth ? { auth } : {}), ...(platform ? { platform: formatPlatform(platform) } : {}) });
    opts.emit({ type: 'vertex', vertex: { id, name, inputs: [], started, completed: Date.now() } });
    return res.image;
  } catch (err) {
    opts.emit({ type: 'vertex', vertex: { id, name, inputs: [], started, completed: Date.now(), error: (err as Error).message } });
    throw baseError(err, ref);
  }
}

/** The credentials a request to `host` goes with: given ones first, then the lookup's. */
export async function authFor(host: string | undefined, opts: Pick<BaseImageOptions, 'auth' | 'authLookup'>): Promise<RequestAuth | undefined> {
  if (host === undefined) return undefined;
  const given = opts.auth?.find((a) => a.host === host);
  if (given) return given;
  const credentials = await opts.authLookup?.(host);
  return credentials ? { host, credentials } : undefined;
}
