import { filtersQuery, type Filters } from '../../util/filters.js';
import type { Readable } from 'node:stream';
import type { ServerVersion, ArchiveFormat, BuildCachePruneRequest, BuildCachePruneResult, EngineApi, ImportOptions, SystemDf, EventsRequest } from '../../api/types.js';
import type { ImageRecord } from '../../images/types.js';
import type { CommitOptions } from '../../containers/commit.js';
import type { PruneResult } from '../../images/prune.js';
import type { BuildOptions, BuildResult } from '../../build/types.js';
import { TbuildError } from '../../errors.js';
import { EngineClient, type ClientOptions } from './client.js';
import { RemoteVolumes } from './volumes.js';
import { RemoteImageStore } from './images.js';
import { RemoteContainers } from './containers.js';
import { RemoteNetworks } from './networks.js';
import { remoteBuild } from './build.js';
import { RemoteRegistries } from './registries.js';
import type { VerifyOptions, VerifyReport } from '../../verify/types.js';

/**
 * The engine the CLI talks to when a daemon answers: the same `images`, `containers` and `build`
 * as the embedded `Engine`, over the Engine API, plus the archive verbs the API has. The
 * low-level parts (content store, snapshots, …) live in the daemon's process; touching them
 * here is a coded error rather than a silent local state root.
 */
export class RemoteEngine implements EngineApi {
  readonly client: EngineClient;
  readonly images: RemoteImageStore;
  readonly containers: RemoteContainers;
  readonly networks: RemoteNetworks;
  readonly registries: RemoteRegistries;
  readonly volumes: RemoteVolumes;

  private constructor(client: EngineClient) {
    this.client = client;
    this.images = new RemoteImageStore(client);
    this.registries = new RemoteRegistries(client, this.images);
    this.containers = new RemoteContainers(client);
    this.networks = new RemoteNetworks(client);
    this.volumes = new RemoteVolumes(client);
  }

  /** Connect: `_ping` negotiates the API version (and proves the daemon is there). */
  static async connect(opts: ClientOptions & { timeoutMs?: number }): Promise<RemoteEngine> {
    const client = new EngineClient(opts);
    try {
      await client.ping(opts.timeoutMs);
    } catch (err) {
      client.close();
      throw err;
    }
    return new RemoteEngine(client);
  }

  /** The daemon's address, where the embedded engine has its state root. */
  get root(): string {
    const a = this.client.address;
    return a.kind === 'unix' ? `unix://${a.path}` : `tcp://${a.host}:${a.port}`;
  }

  /**
   * POST /build, then the pushes the outputs ask for through POST /images/{name}/push (the classic
   * build API cannot push), with the credentials of this user's config.json.
   */
  async build(options: BuildOptions): Promise<BuildResult> {
    const pushes: string[] = [];
    for (const o of options.outputs ?? []) {
      if (o.type === 'image' && o.push) pushes.push(...(o.names?.length ? o.names : (options.tags ?? [])));
    }
    if ((options.outputs ?? []).some((o) => o.type === 'image' && o.push) && pushes.length === 0) {
      throw new TbuildError('TB_INVALID_ARGUMENT', 'push needs a name: give -t NAME or name= in --output');
    }
    const result = await remoteBuild(this.client, this.images, options);
    if (pushes.length) {
      const [{ parseReference }, { DockerConfigCredentials }] = await Promise.all([import('../../images/reference.js'), import('../../registry/credentials.js')]);
      const store = new DockerConfigCredentials();
      for (const name of pushes) {
        const host = parseReference(name).domain;
        const credentials = await store.get(host);
        await this.registries.push(name, credentials ? { auth: { host, credentials } } : {});
      }
    }
    return result;
  }

  /** `POST /images/load`: the daemon's lines (`Loaded image: …`), in order. */
  async load(input: Readable): Promise<string[]> {
    const lines: string[] = [];
    for await (const m of this.client.messages('POST', '/images/load', { body: input, headers: { 'Content-Type': 'application/x-tar' } })) {
      if (m.error || m.errorDetail) throw new TbuildError('TB_ARCHIVE_INVALID', m.errorDetail?.message ?? m.error ?? 'load failed');
      if (m.stream) lines.push(...m.stream.split('\n').filter(Boolean));
    }
    return lines;
  }

  /** `GET /images/get`: a docker-archive tar of the images (the Engine API has no other format). */
  async save(refs: string[], format: ArchiveFormat = 'docker'): Promise<Readable> {
    if (format !== 'docker') {
      throw new TbuildError('TB_INVALID_ARGUMENT', `--format ${format} is not available through the daemon (the Engine API saves docker archives); run without -H`);
    }
    return this.client.request('GET', '/images/get', { query: { names: refs } });
  }

  /** `POST /images/create?fromSrc=-`: a one-layer image from a rootfs tar. */
  async importImage(input: Readable, opts: ImportOptions): Promise<ImageRecord> {
    const { repo, tag } = opts.name ? refQuery(opts.name) : { repo: undefined, tag: undefined };
    let id: string | undefined;
    for await (const m of this.client.messages('POST', '/images/create', {
      query: { fromSrc: '-', repo, tag, changes: opts.changes?.length ? opts.changes : undefined, message: opts.message, platform: opts.platform },
      body: input,
      headers: { 'Content-Type': 'application/x-tar' },
    })) {
      if (m.error || m.errorDetail) throw new TbuildError('TB_ARCHIVE_INVALID', m.errorDetail?.message ?? m.error ?? 'import failed');
      if (m.status?.startsWith('sha256:')) id = m.status;
    }
    if (!id) throw new TbuildError('TB_INTERNAL', 'the daemon ended the import without an image id');
    return this.images.resolve(id);
  }

  /** `POST /commit`: the container's changes as a new image (the API reports no progress: `onProgress` hears nothing). */
  async commit(container: string, opts: CommitOptions): Promise<ImageRecord> {
    const r = await this.client.json<{ Id: string }>('POST', '/commit', {
      query: {
        container,
        ...(opts.ref ? refQuery(opts.ref) : {}),
        changes: opts.changes.length ? opts.changes : undefined,
        comment: opts.comment,
        author: opts.author,
        pause: opts.pause === false ? '0' : undefined,
      },
    });
    return this.images.resolve(r.Id);
  }

  /** `POST /images/prune`: dangling images, or with `all` every image no container uses. */
  async pruneImages(opts: { all?: boolean; filters?: Filters } = {}): Promise<PruneResult> {
    const filters = new Map(opts.filters ?? []);
    if (!filters.has('dangling')) filters.set('dangling', [opts.all ? 'false' : 'true']);
    const r = await this.client.json<{ ImagesDeleted: PruneResult['ImagesDeleted'] | null; SpaceReclaimed: number }>('POST', '/images/prune', {
      query: { filters: filtersQuery(filters) },
    });
    return { ImagesDeleted: r.ImagesDeleted ?? [], SpaceReclaimed: r.SpaceReclaimed ?? 0 };
  }

  /** `GET /images/{name}/json`: the daemon's inspect body. */
  async inspectImage(ref: string): Promise<Record<string, unknown>> {
    return this.client.json<Record<string, unknown>>('GET', `/images/${encodeURIComponent(ref)}/json`);
  }

  /** `GET /version`. */
  async version(): Promise<ServerVersion> {
    const v = await this.client.json<Omit<ServerVersion, 'Where'>>('GET', '/version');
    return { ...v, Where: this.root, Components: v.Components ?? [] };
  }

  /** `GET /events`, one decoded event per line until `until` or the signal. */
  async *events(opts: EventsRequest): AsyncIterable<Record<string, unknown>> {
    const query = {
      since: opts.since,
      until: opts.until,
      filters: opts.filters && Object.keys(opts.filters).length ? JSON.stringify(opts.filters) : undefined,
    };
    for await (const m of this.client.messages('GET', '/events', { query, ...(opts.signal ? { signal: opts.signal } : {}) })) {
      yield m as unknown as Record<string, unknown>;
    }
  }

  /** `GET /info`. */
  info(): Promise<Record<string, unknown>> {
    return this.client.json<Record<string, unknown>>('GET', '/info');
  }

  /** `POST /build/prune`. */
  async pruneBuildCache(opts: BuildCachePruneRequest = {}): Promise<BuildCachePruneResult> {
    const r = await this.client.json<{ CachesDeleted: string[] | null; SpaceReclaimed: number }>('POST', '/build/prune', {
      query: {
        all: opts.all ? '1' : undefined,
        'keep-storage': opts.keepStorage !== undefined ? String(opts.keepStorage) : undefined,
        filters: opts.until !== undefined ? JSON.stringify({ until: { [opts.until]: true } }) : undefined,
      },
    });
    return { CachesDeleted: r.CachesDeleted ?? [], SpaceReclaimed: r.SpaceReclaimed ?? 0 };
  }

  /** `POST /tbuild/system/verify`. */
  verify(opts: VerifyOptions = {}): Promise<VerifyReport> {
    return this.client.json<VerifyReport>('POST', '/tbuild/system/verify', { query: { repair: opts.repair ? '1' : undefined } });
  }

  async df(): Promise<SystemDf> {
    return this.client.json<SystemDf>('GET', '/system/df');
  }

  async close(): Promise<void> {
    await this.containers.close();
    this.client.close();
  }
}

/** `NAME[:TAG]` as the Engine API's `repo` and `tag` parameters. */
function refQuery(name: string): { repo: string; tag?: string } {
  const colon = name.lastIndexOf(':');
  const hasTag = colon > name.lastIndexOf('/');
  return hasTag ? { repo: name.slice(0, colon), tag: name.slice(colon + 1) } : { repo: name };
}
