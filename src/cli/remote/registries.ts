import { TbuildError, type ErrorCode } from '../../errors.js';
import { isDigest, type Digest } from '../../util/digest.js';
import type { Credentials, DistributionInfo, PulledImage, PulledRepository, PullRequest, PushedImage, PushRequest, Registries, RequestAuth } from '../../registry/types.js';
import type { EngineClient } from './client.js';
import type { RemoteImageStore } from './images.js';
import { transferProgress } from '../../api/wire/transfer.js';

/**
 * Registry verbs through the daemon, as the Docker CLI does them: `POST /images/create?fromImage=`,
 * `POST /images/{name}/push`, `POST /auth`, with the credentials (when any) in X-Registry-Auth.
 */

/** X-Registry-Auth: base64url of Docker's AuthConfig JSON. */
export function registryAuthHeader(auth: RequestAuth | undefined): Record<string, string> {
  if (!auth) return {};
  return { 'X-Registry-Auth': Buffer.from(JSON.stringify(authConfig(auth))).toString('base64url') };
}

/** X-Registry-Config (POST /build): base64url of a map from registry host to AuthConfig. */
export function registryConfigHeader(auths: readonly RequestAuth[]): Record<string, string> {
  if (!auths.length) return {};
  const map = Object.fromEntries(auths.map((a) => [a.host, authConfig(a)]));
  return { 'X-Registry-Config': Buffer.from(JSON.stringify(map)).toString('base64url') };
}

function authConfig(auth: RequestAuth): Record<string, string> {
  const c = auth.credentials;
  return {
    ...(c.username !== undefined ? { username: c.username, password: c.password ?? '' } : {}),
    ...(c.identityToken ? { identitytoken: c.identityToken } : {}),
    ...(c.registryToken ? { registrytoken: c.registryToken } : {}),
    serveraddress: auth.host,
  };
}

/** The coded error behind a registry failure the daemon reported in its stream or answer. */
export function registryError(message: string): TbuildError {
  let code: ErrorCode = 'TB_REGISTRY_PROTOCOL';
  if (/unauthorized|authentication required|incorrect username/i.test(message)) code = 'TB_REGISTRY_UNAUTHORIZED';
  else if (/^denied|: denied/i.test(message)) code = 'TB_REGISTRY_DENIED';
  else if (/no matching manifest/i.test(message)) code = 'TB_PLATFORM_NOT_FOUND';
  else if (/not found|unknown/i.test(message)) code = 'TB_REGISTRY_NOT_FOUND';
  else if (/cannot reach registry/i.test(message)) code = 'TB_REGISTRY_UNREACHABLE';
  else if (/does not match its digest/i.test(message)) code = 'TB_CONTENT_DIGEST_MISMATCH';
  else if (/No such image/i.test(message)) code = 'TB_IMAGE_NOT_FOUND';
  else if (/invalid reference/i.test(message)) code = 'TB_REFERENCE_INVALID';
  return new TbuildError(code, message);
}

/** A pull the daemon answered with a plain error status: coded from its message, as a stream error is. */
function pullError(err: unknown): unknown {
  if (err instanceof TbuildError && (err.code === 'TB_IMAGE_NOT_FOUND' || err.code === 'TB_INTERNAL' || err.code === 'TB_API_NOT_FOUND')) return registryError(err.message);
  return err;
}

export class RemoteRegistries implements Registries {
  readonly #client: EngineClient;
  readonly #images: RemoteImageStore;

  constructor(client: EngineClient, images: RemoteImageStore) {
    this.#client = client;
    this.#images = images;
  }

  async pull(ref: string, req: PullRequest = {}): Promise<PulledImage> {
    const { pullReference } = await import('../../registry/pull.js');
    const { formatReference } = await import('../../images/reference.js');
    const parsed = pullReference(ref);
    const repo = formatReference({ domain: parsed.domain, path: parsed.path });
    let digest: string | undefined;
    let upToDate = false;
    try {
      for await (const m of this.#client.messages('POST', '/images/create', {
        query: { fromImage: repo, tag: parsed.digest ?? parsed.tag, platform: req.platform },
        headers: registryAuthHeader(req.auth),
      })) {
        if (m.error || m.errorDetail) throw registryError(m.errorDetail?.message ?? m.error ?? 'pull failed');
        const p = transferProgress(m);
        if (!p) continue;
        if (p.status.startsWith('Digest: ')) digest = p.status.slice('Digest: '.length);
        if (p.status.startsWith('Status: Image is up to date')) upToDate = true;
        req.onProgress?.(p);
      }
    } catch (err) {
      throw pullError(err);
    }
    if (!digest || !isDigest(digest)) throw new TbuildError('TB_INTERNAL', 'the daemon ended the pull without a digest');
    const name = formatReference(parsed);
    const image = await this.#images.resolve(parsed.tag !== undefined ? name : `${repo}@${digest}`);
    return { image, name, digest: digest as Digest, upToDate };
  }

  /** As the Docker CLI's `pull -a`: the repository without a tag; the daemon lists and pulls the tags. */
  async pullAllTags(repository: string, req: PullRequest = {}): Promise<PulledRepository> {
    const { parseReference, formatReference } = await import('../../images/reference.js');
    const parsed = parseReference(repository);
    if (parsed.tag !== undefined || parsed.digest !== undefined) throw new TbuildError('TB_INVALID_ARGUMENT', "tag can't be used with --all-tags/-a");
    const result: PulledRepository = { name: formatReference(parsed), pulled: [], failed: [], upToDate: false };
    try {
      for await (const m of this.#client.messages('POST', '/images/create', {
        query: { fromImage: result.name, platform: req.platform },
        headers: registryAuthHeader(req.auth),
      })) {
        if (m.error || m.errorDetail) throw registryError(m.errorDetail?.message ?? m.error ?? 'pull failed');
        const p = transferProgress(m);
        if (!p) continue;
        if (p.id !== undefined && p.status.startsWith('Pulling from ')) result.pulled.push(p.id);
        const failed = p.id !== undefined && /^Error pulling tag [^:]*: (.*)$/s.exec(p.status);
        if (failed) {
          result.failed.push({ tag: p.id!, message: failed[1]! });
          result.pulled = result.pulled.filter((t) => t !== p.id);
        }
        if (p.status.startsWith('Status: Image is up to date')) result.upToDate = true;
        req.onProgress?.(p);
      }
    } catch (err) {
      throw pullError(err);
    }
    return result;
  }

  async push(ref: string, req: PushRequest = {}): Promise<PushedImage> {
    const { parseReference, formatReference } = await import('../../images/reference.js');
    const parsed = parseReference(ref);
    const tag = parsed.tag ?? 'latest';
    const repo = formatReference({ domain: parsed.domain, path: parsed.path });
    if (req.image) throw new TbuildError('TB_INVALID_ARGUMENT', 'pushing an image under another name is not offered through the daemon: tag it first');
    if (req.platforms?.length) throw new TbuildError('TB_INVALID_ARGUMENT', 'pushing several platforms as one manifest list is not offered through the daemon');
    let result: PushedImage | undefined;
    for await (const m of this.#client.messages('POST', `/images/${encodeURIComponent(repo)}/push`, {
      query: { tag },
      headers: registryAuthHeader(req.auth),
    })) {
      if (m.error || m.errorDetail) throw registryError(m.errorDetail?.message ?? m.error ?? 'push failed');
      const aux = m.aux as { Tag?: string; Digest?: string; Size?: number } | undefined;
      if (aux?.Digest && isDigest(aux.Digest)) {
        result = { name: formatReference({ ...parsed, tag }), tag: aux.Tag ?? tag, digest: aux.Digest as Digest, size: aux.Size ?? 0 };
        continue;
      }
      const p = transferProgress(m);
      if (p) req.onProgress?.(p);
    }
    if (!result) throw new TbuildError('TB_INTERNAL', 'the daemon ended the push without a digest');
    return result;
  }

  async checkLogin(host: string, credentials: Credentials): Promise<void> {
    try {
      await this.#client.json('POST', '/auth', {
        body: {
          ...(credentials.username !== undefined ? { username: credentials.username, password: credentials.password ?? '' } : {}),
          ...(credentials.identityToken ? { identitytoken: credentials.identityToken } : {}),
          serveraddress: host,
        },
      });
    } catch (err) {
      if (err instanceof TbuildError) throw registryError(err.message);
      throw err;
    }
  }

  async distribution(ref: string, auth?: RequestAuth): Promise<DistributionInfo> {
    try {
      return await this.#client.json<DistributionInfo>('GET', `/distribution/${encodeURIComponent(ref)}/json`, { headers: registryAuthHeader(auth) });
    } catch (err) {
      if (err instanceof TbuildError) throw registryError(err.message);
      throw err;
    }
  }

  async close(): Promise<void> {}
}
