import { verifyingStream } from '../util/verify-stream.js';
import { createHash } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { TbuildError, isTbuildError } from '../errors.js';
import { isDigest, sha256, type Digest } from '../util/digest.js';
import { Authorizer, registryErrorText } from './auth.js';
import { header, readLimited, responseError } from './responses.js';
import { apiHost, bodyError, redact, Transport, type HttpRequest, type HttpResponse } from './transport.js';
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES } from './media-types.js';
import type { Credentials, Descriptor, Fetcher, Pusher, RegistryClient, RegistryOptions, RepositoryRef, Resolved } from './types.js';

/** The OCI distribution API v2 over the transport and authorizer. */
export class Registry implements RegistryClient {
  readonly #transport: Transport;
  readonly #auth: Authorizer;
  readonly #mirrors: string[];

  constructor(opts: RegistryOptions = {}) {
    this.#transport = new Transport(opts);
    this.#auth = new Authorizer(this.#transport, opts.credentials);
    this.#mirrors = (opts.mirrors ?? []).map(mirrorHost);
  }

  /**
   * One API call on `host`: with the Authorization known for `scopes`, and once more with a fresh
   * one after a 401 (only when the body can be sent again).
   */
  async call(host: string, scopes: readonly string[], req: Omit<HttpRequest, 'url'> & { path: string }): Promise<HttpResponse> {
    const base = await this.#transport.base(host);
    const url = /^https?:\/\//.test(req.path) ? req.path : `${base}${req.path}`;
    const send = (authorization: string | undefined): Promise<HttpResponse> =>
      this.#transport.send({ ...req, url, headers: { ...req.headers, ...(authorization ? { authorization } : {}) } });
    let res = await send(await this.#auth.header(host, scopes));
    if (res.status === 401 && !(req.body instanceof Readable)) {
      const fresh = await this.#auth.answer(host, scopes, res);
      await res.body.dump();
      res = await send(fresh);
    }
    return res;
  }

  /** docker.io pulls go to the mirrors first (dockerd's registry-mirrors), then to docker.io itself. */
  fetcher(repo: RepositoryRef): Fetcher {
    const own = new RepoFetcher(this, repo);
    if (repo.domain !== 'docker.io' || this.#mirrors.length === 0) return own;
    return new FallbackFetcher([...this.#mirrors.map((h) => new RepoFetcher(this, repo, h)), own]);
  }

  pusher(repo: RepositoryRef, extraPullScopes: string[] = []): Pusher {
    return new RepoPusher(this, repo, extraPullScopes);
  }

  async tags(repo: RepositoryRef): Promise<string[]> {
    const { listTags } = await import('./tags.js');
    return listTags(this, repo);
  }

  async login(host: string, creds: Credentials): Promise<void> {
    const api = apiHost(host);
    this.#auth.setCredentials(api, creds);
    const res = await this.call(api, [], { method: 'GET', path: '/v2/' });
    if (res.status === 401) {
      // The registry still refuses: the token or Basic credentials were wrong.
      await res.body.dump();
      throw new TbuildError('TB_REGISTRY_UNAUTHORIZED', `unauthorized: incorrect username or password for ${host}`, { details: { host } });
    }
    if (res.status !== 200) {
      const why = await registryErrorText(res);
      throw new TbuildError('TB_REGISTRY_PROTOCOL', `${host}/v2/ answered ${res.status}${why ? `: ${why}` : ''}`);
    }
    await res.body.dump();
  }

  async close(): Promise<void> {
    await this.#transport.close();
  }
}

/**
 * The bytes of `source`, counted and hashed as they pass; fails as soon as there are too many, and
 * at the end when size or digest differ from `desc`. Errors reach whoever reads the stream.
 */
export function verified(source: AsyncIterable<Buffer>, desc: Descriptor, onBytes?: (n: number) => void, host = 'the registry', verify = true): Readable {
  async function* read(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of source) {
        if (!verify) onBytes?.(chunk.length);
        yield chunk;
      }
    } catch (err) {
      throw bodyError(host, err);
    }
  }
  return verify ? verifyingStream(read(), desc, onBytes) : Readable.from(read(), { objectMode: false });
}

class RepoFetcher implements Fetcher {
  readonly #reg: Registry;
  readonly #repo: RepositoryRef;
  readonly #host: string;
  readonly #scopes: string[];

  constructor(reg: Registry, repo: RepositoryRef, host = apiHost(repo.domain)) {
    this.#reg = reg;
    this.#repo = repo;
    this.#host = host;
    this.#scopes = [`repository:${repo.path}:pull`];
  }

  get #name(): string {
    return `${this.#repo.domain}/${this.#repo.path}`;
  }

  async manifest(tagOrDigest: string): Promise<Resolved> {
    const byDigest = tagOrDigest.includes(':');
    const what = `manifest for ${this.#name}${byDigest ? '@' : ':'}${tagOrDigest}`;
    const res = await this.#reg.call(this.#host, this.#scopes, {
      method: 'GET',
      path: `/v2/${this.#repo.path}/manifests/${tagOrDigest}`,
      headers: { accept: MANIFEST_ACCEPT },
    });
    if (res.status !== 200) throw await responseError(res, what, this.#host);
    const bytes = await readLimited(res, MAX_MANIFEST_BYTES, what);
    const digest = sha256(bytes);
    if (byDigest && digest !== tagOrDigest) {
      throw new TbuildError('TB_CONTENT_DIGEST_MISMATCH', `${what} does not match its digest (got ${digest})`);
    }
    const claimed = header(res, 'docker-content-digest');
    if (claimed && isDigest(claimed) && claimed !== digest) {
      throw new TbuildError('TB_CONTENT_DIGEST_MISMATCH', `${what}: Docker-Content-Digest ${claimed} does not match the bytes (${digest})`);
    }
    let mediaType: string | undefined;
    try {
      mediaType = (JSON.parse(bytes.toString()) as { mediaType?: string }).mediaType;
    } catch {
      throw new TbuildError('TB_REGISTRY_PROTOCOL', `${what} is not JSON`);
    }
    mediaType ??= header(res, 'content-type')?.split(';')[0];
    if (!mediaType) throw new TbuildError('TB_REGISTRY_PROTOCOL', `${what} has no media type`);
    return { repository: this.#repo, descriptor: { mediaType, digest, size: bytes.length }, bytes };
  }

  async #get(desc: Descriptor): Promise<HttpResponse> {
    const res = await this.#reg.call(this.#host, this.#scopes, { method: 'GET', path: `/v2/${this.#repo.path}/blobs/${desc.digest}` });
    if (res.status !== 200) throw await responseError(res, `blob ${desc.digest} in ${this.#name}`, this.#host);
    return res;
  }

  async blob(desc: Descriptor, onBytes?: (n: number) => void, opts: { verify?: boolean } = {}): Promise<Readable> {
    const res = await this.#get(desc);
    return verified(res.body as AsyncIterable<Buffer>, desc, onBytes, new URL(res.url).host, opts.verify ?? true);
  }

  async blobBytes(desc: Descriptor): Promise<Buffer> {
    if (desc.size > MAX_MANIFEST_BYTES * 4) throw new TbuildError('TB_REGISTRY_PROTOCOL', `blob ${desc.digest} is too large to read whole`);
    const res = await this.#get(desc);
    const bytes = await readLimited(res, desc.size, `blob ${desc.digest}`);
    if (bytes.length !== desc.size || sha256(bytes) !== desc.digest) {
      throw new TbuildError('TB_CONTENT_DIGEST_MISMATCH', `blob ${desc.digest} does not match its digest`);
    }
    return bytes;
  }
}

/** `https://mirror.example:5000/` → `mirror.example:5000`. */
function mirrorHost(url: string): string {
  try {
    return new URL(/^[a-z]+:\/\//i.test(url) ? url : `https://${url}`).host;
  } catch {
    throw new TbuildError('TB_INVALID_ARGUMENT', `invalid registry mirror ${JSON.stringify(url)}`);
  }
}

/**
 * Endpoints tried in order: the first that has the manifest serves the pull; a blob it fails to
 * give is asked of the others. Unauthorized, missing or unreachable mirrors are passed over.
 */
class FallbackFetcher implements Fetcher {
  readonly #all: Fetcher[];
  #order: Fetcher[];

  constructor(all: Fetcher[]) {
    this.#all = all;
    this.#order = all;
  }

  async #first<T>(list: Fetcher[], fn: (f: Fetcher) => Promise<T>): Promise<{ value: T; by: Fetcher }> {
    let last: unknown;
    for (const f of list) {
      try {
        return { value: await fn(f), by: f };
      } catch (err) {
        // A blob that does not match its digest is bad data, not an absent mirror: do not hide it.
        if (isTbuildError(err, 'TB_CONTENT_DIGEST_MISMATCH') || isTbuildError(err, 'TB_CONTENT_SIZE_MISMATCH')) throw err;
        last = err;
      }
    }
    throw last;
  }

  async manifest(tagOrDigest: string): Promise<Resolved> {
    const { value, by } = await this.#first(this.#all, (f) => f.manifest(tagOrDigest));
    this.#order = [by, ...this.#all.filter((f) => f !== by)];
    return value;
  }

  async blob(desc: Descriptor, onBytes?: (n: number) => void, opts?: { verify?: boolean }): Promise<Readable> {
    return (await this.#first(this.#order, (f) => f.blob(desc, onBytes, opts))).value;
  }

  async blobBytes(desc: Descriptor): Promise<Buffer> {
    return (await this.#first(this.#order, (f) => f.blobBytes(desc))).value;
  }
}

class RepoPusher implements Pusher {
  readonly #reg: Registry;
  readonly #repo: RepositoryRef;
  readonly #host: string;
  readonly #scopes: string[];

  constructor(reg: Registry, repo: RepositoryRef, extraPull: string[]) {
    this.#reg = reg;
    this.#repo = repo;
    this.#host = apiHost(repo.domain);
    this.#scopes = [`repository:${repo.path}:pull,push`, ...extraPull.filter((p) => p !== repo.path).map((p) => `repository:${p}:pull`)];
  }

  get #name(): string {
    return `${this.#repo.domain}/${this.#repo.path}`;
  }

  async hasBlob(digest: Digest): Promise<boolean> {
    const res = await this.#reg.call(this.#host, this.#scopes, { method: 'HEAD', path: `/v2/${this.#repo.path}/blobs/${digest}` });
    await res.body.dump();
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw await responseError(res, `checking blob ${digest} in ${this.#name}`, this.#host);
  }

  async #startUpload(query = ''): Promise<HttpResponse> {
    return this.#reg.call(this.#host, this.#scopes, { method: 'POST', path: `/v2/${this.#repo.path}/blobs/uploads/${query}`, idempotent: true });
  }

  async #location(res: HttpResponse): Promise<URL> {
    const loc = header(res, 'location');
    await res.body.dump();
    if (!loc) throw new TbuildError('TB_REGISTRY_PROTOCOL', `upload to ${this.#name} gave no Location`);
    return new URL(loc, res.url);
  }

  async mountBlob(digest: Digest, fromPath: string): Promise<boolean> {
    const res = await this.#startUpload(`?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(fromPath)}`);
    if (res.status === 201) {
      await res.body.dump();
      return true;
    }
    if (res.status === 202) {
      // The registry could not mount and opened an upload instead: close it.
      const loc = await this.#location(res);
      const del = await this.#reg.call(this.#host, this.#scopes, { method: 'DELETE', path: loc.toString() }).catch(() => undefined);
      await del?.body.dump();
      return false;
    }
    throw await responseError(res, `mounting ${digest} from ${fromPath} into ${this.#name}`, this.#host);
  }

  async putBlob(data: Buffer, digest: Digest = sha256(data)): Promise<Descriptor> {
    const start = await this.#startUpload();
    if (start.status !== 202) throw await responseError(start, `starting an upload to ${this.#name}`, this.#host);
    const loc = await this.#location(start);
    loc.searchParams.set('digest', digest);
    const res = await this.#reg.call(this.#host, this.#scopes, {
      method: 'PUT',
      path: loc.toString(),
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(data.length) },
      body: data,
    });
    await this.#checkCommitted(res, digest);
    return { mediaType: 'application/octet-stream', digest, size: data.length };
  }

  async pushStream(data: Readable, onBytes?: (n: number) => void): Promise<{ digest: Digest; size: number }> {
    const start = await this.#startUpload();
    if (start.status !== 202) throw await responseError(start, `starting an upload to ${this.#name}`, this.#host);
    let loc = await this.#location(start);
    const hash = createHash('sha256');
    let size = 0;
    const counted = data.pipe(
      new Transform({
        transform(chunk: Buffer, _e, cb) {
          hash.update(chunk);
          size += chunk.length;
          onBytes?.(chunk.length);
          cb(null, chunk);
        },
      }),
    );
    data.on('error', (err) => counted.destroy(err));
    const patch = await this.#reg.call(this.#host, this.#scopes, {
      method: 'PATCH',
      path: loc.toString(),
      headers: { 'content-type': 'application/octet-stream' },
      body: counted,
    });
    if (patch.status !== 202) throw await responseError(patch, `uploading to ${this.#name}`, this.#host);
    loc = await this.#location(patch);
    const digest = `sha256:${hash.digest('hex')}` as Digest;
    loc.searchParams.set('digest', digest);
    const put = await this.#reg.call(this.#host, this.#scopes, { method: 'PUT', path: loc.toString(), headers: { 'content-length': '0' }, body: Buffer.alloc(0) });
    await this.#checkCommitted(put, digest);
    return { digest, size };
  }

  async #checkCommitted(res: HttpResponse, digest: Digest): Promise<void> {
    if (res.status !== 201) throw await responseError(res, `committing blob ${digest} to ${this.#name}`, this.#host);
    const claimed = header(res, 'docker-content-digest');
    await res.body.dump();
    if (claimed && claimed !== digest) {
      throw new TbuildError('TB_CONTENT_DIGEST_MISMATCH', `registry stored blob ${claimed} for ${digest} in ${this.#name}`);
    }
  }

  async putManifest(tagOrDigest: string, mediaType: string, bytes: Buffer): Promise<Digest> {
    const digest = sha256(bytes);
    const res = await this.#reg.call(this.#host, this.#scopes, {
      method: 'PUT',
      path: `/v2/${this.#repo.path}/manifests/${tagOrDigest}`,
      headers: { 'content-type': mediaType },
      body: bytes,
    });
    if (res.status !== 201) throw await responseError(res, `pushing manifest ${this.#name}:${tagOrDigest}`, this.#host);
    const claimed = header(res, 'docker-content-digest');
    await res.body.dump();
    if (claimed && claimed !== digest) {
      throw new TbuildError('TB_CONTENT_DIGEST_MISMATCH', `registry stored manifest ${claimed} for ${digest} (${redact(res.url)})`);
    }
    return digest;
  }
}
