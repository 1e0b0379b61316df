import { mkdir, rename, rm, lstat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import type { PullTarget } from '../registry/pull.js';
import { layerSizes, resolveImageManifest } from '../registry/pull.js';
import { unpackLayers } from '../images/layers.js';
import { join } from 'node:path';
import { hostPlatform, INDEX_TYPES, LAYER_TYPES, MANIFEST_TYPES, type ImageIndex, type ImageManifest } from '../registry/media-types.js';
import type { Descriptor, Fetcher, Resolved } from '../registry/types.js';
import { cacheMountPath } from '../cache/cache-mounts.js';
import type { PendingResult, ResultSource, TransferStatus, VertexResult } from '../solver/result.js';
import { TbuildError, isTbuildError } from '../errors.js';
import { isDigest, shortId, type Digest } from '../util/digest.js';
import { CACHE_CONFIG_TYPE, INLINE_CACHE_KEY, type CacheConfig, type InlineCache, type RemoteLayer } from './types.js';

/** Marks our cache manifest inside an index (`image-manifest=false`). */
export const CACHE_INDEX_ANNOTATION = 'dev.tbuild.cache';

interface ImportedRecord {
  link: Digest;
  created?: string;
  /** Undefined for an identity-only record. */
  layers?: RemoteLayer[];
  fetcher: Fetcher;
}

export interface ImportedMount {
  id: string;
  blob: Descriptor;
  fetcher: Fetcher;
}

/** What a materialized pending result was made from (a later cache export re-uses the blobs). */
const origins = new WeakMap<object, { layers: RemoteLayer[]; fetcher: Fetcher }>();

/** The remote layers behind a result that is still pending, for an export that passes them on. */
export function pendingOrigin(result: VertexResult): { layers: RemoteLayer[]; fetcher: Fetcher } | undefined {
  return result.pending ? origins.get(result.pending) : undefined;
}

/**
 * The records of every `--cache-from` source, merged (the first source that has a key wins).
 * A lookup answers a pending result: nothing is downloaded until the scheduler materializes it.
 */
export class ImportedCache implements ResultSource {
  readonly #records = new Map<Digest, ImportedRecord>();
  readonly mounts: ImportedMount[] = [];
  readonly #target: PullTarget;

  constructor(target: PullTarget) {
    this.#target = target;
  }

  get size(): number {
    return this.#records.size;
  }

  add(key: Digest, rec: ImportedRecord): void {
    if (!this.#records.has(key)) this.#records.set(key, rec);
  }

  async lookup(key: Digest): Promise<VertexResult | undefined> {
    const rec = this.#records.get(key);
    if (!rec) return undefined;
    const target = this.#target;
    const chain = rec.layers;
    const pending: PendingResult = chain
      ? {
          diffIds: chain.map((l) => l.diffId),
          async materialize(signal: AbortSignal, onStatus?: (s: TransferStatus) => void): Promise<VertexResult> {
            if (signal.aborted) throw new TbuildError('TB_BUILD_CANCELLED', 'build cancelled');
            // every layer downloads and unpacks at once, straight from the stream, each blob's
            // bytes reported under the step
            const layers = await unpackLayers(
              target,
              join(target.root, 'registry', 'tmp'),
              chain.map((l) => ({
                diffId: l.diffId,
                extract: async (dir: string) => {
                  const id = `sha256:${shortId(l.blob.digest)}`;
                  let current = 0;
                  let last = 0;
                  const stream = await rec.fetcher.blob(l.blob, (n) => {
                    current += n;
                    if (current - last >= l.blob.size / 20 || current === l.blob.size) {
                      last = current;
                      onStatus?.({ id, current, total: l.blob.size, ...(current === l.blob.size ? { completed: true } : {}) });
                    }
                  });
                  // name the blob: a corrupt one fails while decoding, before its digest could be checked
                  // on this thread: measured, a worker made a CLI's import slower (2.1 s vs 1.6 s on 2 cores)
                  return target.layers.applyTar(stream, dir, { allowDevices: true }).catch((err: unknown) => {
                    if (!(err instanceof Error) || err.message.includes(l.blob.digest)) throw err;
                    throw new TbuildError(isTbuildError(err) ? err.code : 'TB_ARCHIVE_INVALID', `cache blob ${l.blob.digest}: ${err.message}`, { cause: err });
                  });
                },
              })),
              { knownSizes: await layerSizes(target.images) },
            );
            return { snapshot: layers.at(-1)?.snapshot, layers };
          },
        }
      : { diffIds: [] };
    if (chain) origins.set(pending, { layers: chain, fetcher: rec.fetcher });
    return { layers: [], link: rec.link, ...(rec.created ? { created: rec.created } : {}), pending };
  }

  /**
   * Cache mounts the build uses that this machine does not have yet: unpacked from the cache
   * beside their final place, then renamed in (a crash never leaves half a cache mount).
   */
  async restoreMounts(ids: Iterable<string>): Promise<string[]> {
    const restored: string[] = [];
    for (const id of new Set(ids)) {
      const m = this.mounts.find((x) => x.id === id);
      if (!m) continue;
      const dir = cacheMountPath(this.#target.root, id);
      if (await lstat(dir).then(() => true, () => false)) continue;
      const tmp = `${dir}.new-${randomBytes(6).toString('hex')}`;
      await mkdir(tmp, { recursive: true });
      try {
        await this.#target.layers.applyTar(await m.fetcher.blob(m.blob), tmp, { whiteouts: false });
        await rename(tmp, dir);
        restored.push(id);
      } catch (err) {
        await rm(tmp, { recursive: true, force: true });
        if ((err as NodeJS.ErrnoException).code !== 'ENOTEMPTY' && (err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    return restored;
  }
}

function parse<T>(bytes: Buffer, what: string): T {
  try {
    return JSON.parse(bytes.toString()) as T;
  } catch {
    throw new TbuildError('TB_REGISTRY_PROTOCOL', `${what} is not valid JSON`);
  }
}

function bad(name: string, why: string): TbuildError {
  return new TbuildError('TB_REGISTRY_PROTOCOL', `cache ${name}: ${why}`);
}

/**
 * Read one cache source into `into`: a tbuild cache manifest (alone or in an index), or an image
 * whose config carries an inline cache. Returns how many records it added.
 */
export async function importCache(into: ImportedCache, fetcher: Fetcher, top: Resolved, name: string): Promise<number> {
  const before = into.size;
  let resolved = top;
  if (INDEX_TYPES.has(top.descriptor.mediaType)) {
    const index = parse<ImageIndex>(top.bytes, `index of ${name}`);
    const ours = (index.manifests ?? []).find((m) => m.annotations?.[CACHE_INDEX_ANNOTATION]);
    if (ours) resolved = await fetcher.manifest(ours.digest);
  }
  if (!MANIFEST_TYPES.has(resolved.descriptor.mediaType) && !INDEX_TYPES.has(resolved.descriptor.mediaType)) {
    throw bad(name, `unsupported manifest type ${resolved.descriptor.mediaType}`);
  }
  const { manifest } = await resolveImageManifest(fetcher, resolved, hostPlatform(), name);
  if (manifest.config.mediaType === CACHE_CONFIG_TYPE) {
    readCacheManifest(into, fetcher, manifest, parse<CacheConfig>(await fetcher.blobBytes(manifest.config), `cache config of ${name}`), name);
  } else {
    const config = parse<Record<string, unknown>>(await fetcher.blobBytes(manifest.config), `config of ${name}`);
    readInline(into, fetcher, manifest, config, name);
  }
  return into.size - before;
}

function readCacheManifest(into: ImportedCache, fetcher: Fetcher, manifest: ImageManifest, config: CacheConfig, name: string): void {
  if (!Array.isArray(config.layers) || !Array.isArray(config.records)) throw bad(name, 'cache config has no layers or records');
  const blobs = new Map(manifest.layers.map((d) => [d.digest, d]));
  const layers: RemoteLayer[] = config.layers.map((l, i) => {
    const blob = blobs.get(l?.blob);
    if (!blob || !isDigest(l.diffId) || typeof l.size !== 'number') throw bad(name, `layer ${i} is not in the manifest or has no diffID`);
    if (!LAYER_TYPES.has(blob.mediaType)) throw bad(name, `layer ${blob.digest} has unsupported media type ${blob.mediaType}`);
    return { blob, diffId: l.diffId, size: l.size };
  });
  for (const r of config.records) {
    if (!r || !isDigest(r.key) || !isDigest(r.link) || (r.layers !== undefined && !Array.isArray(r.layers))) throw bad(name, 'a record has no key or link');
    const chain = r.layers?.map((i) => layers[i]);
    if (chain?.some((l) => l === undefined)) throw bad(name, `record ${r.key} points past the cache's ${layers.length} layers`);
    into.add(r.key, { link: r.link, ...(chain ? { layers: chain as RemoteLayer[] } : {}), fetcher, ...(typeof r.created === 'string' ? { created: r.created } : {}) });
  }
  for (const m of config.mounts ?? []) {
    const blob = blobs.get(m?.blob);
    if (!blob || typeof m.id !== 'string') throw bad(name, 'a cache mount entry is not in the manifest');
    into.mounts.push({ id: m.id, blob, fetcher });
  }
}

function readInline(into: ImportedCache, fetcher: Fetcher, manifest: ImageManifest, config: Record<string, unknown>, name: string): void {
  const inline = config[INLINE_CACHE_KEY] as InlineCache | undefined;
  if (!inline) throw new TbuildError('TB_REGISTRY_NOT_FOUND', `cache ${name}: the image has no inline cache (built without --cache-to type=inline)`);
  const diffIds = (config.rootfs as { diff_ids?: unknown } | undefined)?.diff_ids;
  if (!Array.isArray(diffIds) || diffIds.length !== manifest.layers.length || !Array.isArray(inline.records)) {
    throw bad(name, 'inline cache does not match the image layers');
  }
  const layers: RemoteLayer[] = manifest.layers.map((blob, i) => ({ blob, diffId: diffIds[i] as Digest, size: 0 }));
  for (const r of inline.records) {
    if (!r || !isDigest(r.key) || !isDigest(r.link) || (r.layers !== undefined && (typeof r.layers !== 'number' || r.layers > layers.length))) throw bad(name, 'a bad inline cache record');
    into.add(r.key, { link: r.link, ...(r.layers !== undefined ? { layers: layers.slice(0, r.layers) } : {}), fetcher, ...(typeof r.created === 'string' ? { created: r.created } : {}) });
  }
}
