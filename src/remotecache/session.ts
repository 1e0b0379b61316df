import { resolve as resolvePath } from 'node:path';
import type { PushSource } from '../registry/push.js';
import type { Fetcher, ProgressSink, RegistryClient, RegistryClientSource, RequestAuth } from '../registry/types.js';
import { parseReference, repositoryName } from '../images/reference.js';
import { TbuildError, isTbuildError } from '../errors.js';
import type { Digest } from '../util/digest.js';
import { ImportedCache, importCache } from './import.js';
import { exportCache, type CacheExportItem, type CacheTarget } from './export.js';
import { LayoutFetcher, LayoutPusher } from './layout.js';
import { describeCache } from './spec.js';
import type { CacheExportSpec, CacheImportSpec, ClientCacheStore } from './types.js';

export interface RemoteCacheEnv {
  /** The engine's stores: what imports unpack into and exports read from. */
  store: PushSource;
  clients?: RegistryClientSource;
  /** Credentials for a registry host, when the build was given some. */
  auth(host: string): Promise<RequestAuth | undefined>;
  warn(message: string): void;
  /** The client's content store by id (`local:<dir>`), for local caches that live on the client. */
  clientStore?(id: string): ClientCacheStore | undefined;
}

/**
 * One build's remote caches: the registry clients it opened (released by `close`), the imported
 * records, and the exports. Import failures are warnings, as in BuildKit: a missing or unreadable
 * cache costs time, not the build. Export failures fail the build unless `ignore-error=true`.
 */
export class BuildCaches {
  readonly #env: RemoteCacheEnv;
  readonly #clients = new Map<string, Promise<{ client: RegistryClient; release: () => Promise<void> }>>();

  constructor(env: RemoteCacheEnv) {
    this.#env = env;
  }

  async #client(host: string): Promise<RegistryClient> {
    let c = this.#clients.get(host);
    if (!c) {
      const clients = this.#env.clients;
      if (!clients) throw new TbuildError('TB_INVALID_ARGUMENT', 'registry caches: this engine has no registry access');
      c = this.#env.auth(host).then((auth) => clients.openClient(auth));
      c.catch(() => {});
      this.#clients.set(host, c);
    }
    return (await c).client;
  }

  #clientStore(id: string): ClientCacheStore {
    const store = this.#env.clientStore?.(id);
    if (!store) throw new TbuildError('TB_INVALID_ARGUMENT', `cache store ${id}: this build has no client serving it`);
    return store;
  }

  async #source(spec: CacheImportSpec): Promise<{ fetcher: Fetcher; tagOrDigest: string; name: string }> {
    if (spec.type === 'local' && spec.store) {
      if (!spec.digest) throw new TbuildError('TB_INVALID_ARGUMENT', `--cache-from type=local,src=${spec.src}: the client gave no digest for its cache`);
      return { fetcher: this.#clientStore(spec.store), tagOrDigest: spec.digest, name: spec.src };
    }
    if (spec.type === 'local') {
      const dir = resolvePath(spec.src);
      return { fetcher: new LayoutFetcher(dir), tagOrDigest: spec.digest ?? spec.tag, name: dir };
    }
    const ref = parseReference(spec.ref);
    const client = await this.#client(ref.domain);
    return { fetcher: client.fetcher({ domain: ref.domain, path: ref.path }), tagOrDigest: ref.digest ?? ref.tag ?? 'latest', name: spec.ref };
  }

  /** Read every `--cache-from`; `step` shows each as BuildKit's "importing cache manifest from …". */
  async importAll(specs: readonly CacheImportSpec[], step: <T>(name: string, fn: () => Promise<T>) => Promise<T>): Promise<ImportedCache> {
    const imported = new ImportedCache(this.#env.store);
    for (const spec of specs) {
      const name = describeCache(spec);
      try {
        await step(`importing cache manifest from ${name}`, async () => {
          const { fetcher, tagOrDigest } = await this.#source(spec);
          const top = await fetcher.manifest(tagOrDigest);
          return importCache(imported, fetcher, top, name);
        });
      } catch (err) {
        if (isTbuildError(err, 'TB_BUILD_CANCELLED')) throw err;
        this.#env.warn(`cache import from ${name} skipped: ${(err as Error).message}`);
      }
    }
    return imported;
  }

  /** Write one `--cache-to` (registry or local); returns the digest its tag now names. */
  async export(spec: Extract<CacheExportSpec, { type: 'registry' | 'local' }>, items: readonly CacheExportItem[], mounts: Array<{ id: string; dir: string }>, progress?: ProgressSink): Promise<Digest> {
    let target: CacheTarget;
    if (spec.type === 'local' && spec.store) {
      target = { pusher: this.#clientStore(spec.store), tag: spec.tag, repo: `client/${spec.dest.replace(/^\/+/, '')}`, host: 'client' };
    } else if (spec.type === 'local') {
      const dir = resolvePath(spec.dest);
      target = { pusher: new LayoutPusher(dir), tag: spec.tag, repo: `local${dir}`, host: 'local' };
    } else {
      const ref = parseReference(spec.ref);
      if (ref.digest !== undefined) throw new TbuildError('TB_REFERENCE_INVALID', `--cache-to ref=${spec.ref}: a cache is exported under a tag, not a digest`);
      const client = await this.#client(ref.domain);
      const repo = repositoryName(ref);
      target = { pusher: client.pusher({ domain: ref.domain, path: ref.path }), tag: ref.tag ?? 'latest', repo, host: ref.domain };
    }
    return exportCache(this.#env.store, items, target, { imageManifest: spec.imageManifest, ociMediaTypes: spec.ociMediaTypes, ...(spec.cacheMounts ? { mounts } : {}) }, progress);
  }

  async close(): Promise<void> {
    const all = [...this.#clients.values()];
    this.#clients.clear();
    for (const c of all) await c.then((x) => x.release(), () => {});
  }
}
