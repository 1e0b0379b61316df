import type { Filters } from './util/filters.js';
import { BuildRecordStore } from './records/store.js';
import type { BuildRecords } from './records/types.js';
import { contentBytes } from './util/content-size.js';
import { mkdir } from 'node:fs/promises';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContentStore, Snapshotter, LayerConverter, CacheIndex } from './cache/types.js';
import type { ContainerRuntime, Executor } from './exec/types.js';
import type { ImageStore } from './images/types.js';
import type { ContainerManager } from './containers/types.js';
import type { Volumes } from './volumes/types.js';
import type { BuildDeps, BuildOptions, BuildResult } from './build/types.js';
import type { WorkerDeps } from './worker/types.js';
import type { NetworkManager } from './network/types.js';
import { openNetworkManager, type NetworkSettings } from './network/manager.js';
import type { Registries, RegistryClientSource } from './registry/types.js';
import { RegistryAccess } from './registry/access.js';
import { openContentStore } from './cache/content-store.js';
import { DEBUG_LABEL, openSnapshotter } from './cache/snapshotter.js';
import { layerConverter } from './cache/layer/index.js';
import { openCacheIndex } from './cache/cache-index.js';
import { openImageStore } from './images/image-store.js';
import { createRuncExecutor } from './exec/runc.js';
import { openContainerManager } from './containers/manager.js';
import { openVolumeStore } from './volumes/store.js';
import { SolverShared } from './solver/scheduler.js';
import { TbuildError } from './errors.js';
import type { Readable } from 'node:stream';
import type { ImageRecord } from './images/types.js';
import { LocalNetworks } from './api/networks.js';
import type { ServerVersion, ArchiveFormat, BuildCachePruneRequest, BuildCachePruneResult, BuildCacheRecord, EngineApi, NetworkApi, ImportOptions, PruneResult, SystemDf } from './api/types.js';
import { defaultKeepStorage, pruneBuildCache } from './cache/prune.js';
import { pruneSourceCaches, sourceCacheEntries } from './worker/file/source-caches.js';
import { parseGoDuration } from './parser/duration.js';
import { loadImageArchive, saveDockerArchive } from './images/docker-archive.js';
import { saveOciLayout } from './images/oci-layout.js';
import { commitContainer, type CommitOptions } from './containers/commit.js';
import { importRootfs } from './images/import.js';
import { pruneImages } from './images/prune.js';
import { imageInspect, type GraphDriverDirs } from './images/inspect.js';
import { familiarName } from './images/reference.js';
import { systemDf } from './api/disk-usage.js';
import { DEFAULT_ROOT } from './defaults.js';

export { DEFAULT_ROOT };
export type { EngineOptions } from './engine-settings.js';
import { settings, type EngineOptions } from './engine-settings.js';
import type { VerifyOptions, VerifyReport } from './verify/types.js';
import { liveBuildStarts, sweepDeadScratch } from './verify/scratch.js';
import { observedBuild } from './records/observed-build.js';

/** The stores and executor of one state root (what the worker layer is given). */
export type EngineParts = WorkerDeps;

interface RootParts extends WorkerDeps {
  runtime: ContainerRuntime;
}

async function openRoot(root: string, runtime: string, net: NetworkSettings, seccompProfile?: string, dns?: RootParts['dns']): Promise<RootParts> {
  await mkdir(root, { recursive: true, mode: 0o711 });
  const content = await openContentStore(root);
  const snapshots = await openSnapshotter(root);
  const layers = layerConverter;
  const cacheIndex = await openCacheIndex(root);
  const images = await openImageStore({ root, content, snapshots, layers });
  // One runc object: the build path sees it as an Executor, containers as a ContainerRuntime.
  const runc = createRuncExecutor({ root, runtime, ...(seccompProfile ? { security: { seccompProfile } } : {}) });
  const network = await openNetworkManager(net);
  return { root, content, snapshots, layers, cacheIndex, images, executor: runc, runtime: runc, network, ...(dns ? { dns } : {}) };
}

/** The stores and executor of one state root, without containers or the solver (tests use it alone). */
export async function openEngineParts(opts: EngineOptions = {}): Promise<EngineParts> {
  const s = settings(opts);
  const { runtime: _runtime, ...parts } = await openRoot(s.root, s.runtime, s.network, s.seccompProfile, s.dns);
  return parts;
}

/**
 * The composition root: the one module that reads settings and wires implementations (stores,
 * runtime, solver, containers, volumes) for one state root. Nothing below imports it.
 *
 * @example
 * const engine = await Engine.open({ root: '/tmp/tb' });
 * const { imageId } = await engine.build({ context: './app', tags: ['app:dev'] });
 */
/**
 * At most one automatic collection a minute per state root, whichever process's build ends: each
 * one measures every cached layer it may drop, and builds end far more often than caches grow.
 */
function claimGcTurn(root: string): boolean {
  const stamp = join(root, 'cache', 'gc-last');
  const last = statSync(stamp, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  if (Date.now() - last < 60_000) return false;
  try {
    writeFileSync(stamp, `${process.pid}\n`);
  } catch {
    return false;
  }
  return true;
}

export class Engine implements BuildDeps, EngineApi {
  readonly root: string;
  readonly content: ContentStore;
  readonly snapshots: Snapshotter;
  readonly layers: LayerConverter;
  readonly cacheIndex: CacheIndex;
  readonly images: ImageStore;
  readonly executor: Executor;
  readonly runtime: ContainerRuntime;
  readonly network?: NetworkManager;
  readonly dns?: RootParts['dns'];
  /** Networks in the Docker API's shapes (the CLI's and daemon's view of `network`). */
  readonly networks?: NetworkApi;
  readonly containers: ContainerManager;
  /**
   * The root's named volumes: one store, shared with the container manager (which checks use).
   * Optional in the type so engine look-alikes without a local root (the CLI's remote engine) fit.
   */
  readonly volumes?: Volumes;
  /** One scheduler state for every build on this engine: concurrent builds share in-flight work. */
  readonly solver: SolverShared;
  readonly sourceDateEpoch?: number;
  /** Pull, push and login checks against registries. */
  readonly registries: Registries;
  /** Registry clients for builds' remote caches (`--cache-to/--cache-from`). */
  readonly registryClients: RegistryClientSource;
  /** What every build on this root left behind: steps, timings, whole logs. */
  readonly records: BuildRecords;

  private constructor(parts: RootParts, containers: ContainerManager, volumes: Volumes, solver: SolverShared, registries: RegistryAccess, sourceDateEpoch?: number) {
    this.registries = registries;
    this.registryClients = registries;
    this.root = parts.root;
    this.records = new BuildRecordStore(parts.root);
    this.content = parts.content;
    this.snapshots = parts.snapshots;
    this.layers = parts.layers;
    this.cacheIndex = parts.cacheIndex;
    this.images = parts.images;
    this.executor = parts.executor;
    this.runtime = parts.runtime;
    this.network = parts.network;
    if (parts.dns) this.dns = parts.dns;
    this.containers = containers;
    if (parts.network) this.networks = new LocalNetworks(parts.network, containers);
    this.volumes = volumes;
    this.solver = solver;
    this.sourceDateEpoch = sourceDateEpoch;
  }

  /** The state root `open` would use for `opts`, and where its name came from (flag, env, file, default). */
  static rootFor(opts: EngineOptions = {}): { root: string; source: string | undefined } {
    const s = settings(opts);
    return { root: s.root, source: s.sources.root };
  }

  static async open(opts: EngineOptions = {}): Promise<Engine> {
    const s = settings(opts);
    const parts = await openRoot(s.root, s.runtime, s.network, s.seccompProfile, s.dns);
    // What crashed processes held (namespaces, netavark state, address leases, scratch with
    // mounts and secrets' tmpfs in it) goes first.
    await parts.network?.reconcile();
    await sweepDeadScratch(parts.root);
    const volumes = openVolumeStore(parts.root);
    const containers = await openContainerManager({ ...parts, volumes });
    // Stores ask the container manager before removing what a container still uses.
    volumes.setInUseCheck((name) => containers.volumeUsers(name));
    parts.images.setInUseCheck((imageId) => containers.imageUser(imageId));
    const registries = new RegistryAccess(parts, s.registry, async () => {
      const { DockerConfigCredentials, dockerConfigDir } = await import('./registry/credentials.js');
      return new DockerConfigCredentials(dockerConfigDir({ DOCKER_CONFIG: s.dockerConfig }));
    });
    const engine = new Engine(parts, containers, volumes, new SolverShared(s.maxParallelism), registries, s.sourceDateEpoch);
    engine.#settings = s;
    return engine;
  }

  /** The settings this engine was opened with, and where each came from (for `info`). */
  #settings?: ReturnType<typeof settings>;
  /** One automatic collection at a time; builds that finish meanwhile share the next. */
  #gcRunning?: Promise<void>;

  /** The GC policy (daemon.json's `builder.gc`, on by default): after a build, trim the cache back under the kept size. */
  #collectGarbage(): void {
    const gc = this.#settings?.gc;
    if (gc === false || this.#gcRunning || !claimGcTurn(this.root)) return;
    // Every result counts against the budget (BuildKit's last GC rule), newest kept first.
    this.#gcRunning = (async () => this.pruneBuildCache({ all: true, keepStorage: gc?.keepStorage ?? (await defaultKeepStorage(this.root)) }))()
      .then(() => undefined, () => undefined)
      .finally(() => {
        this.#gcRunning = undefined;
      });
  }

  async info(): Promise<Record<string, unknown>> {
    const { systemInfo } = await import('./api/system-info.js');
    const s = this.#settings;
    const [containers, images, volumes, df] = await Promise.all([
      this.containers.list({ all: true }),
      this.images.list(),
      this.volumes?.list() ?? [],
      this.df(),
    ]);
    return systemInfo({
      root: this.root,
      runtime: s?.runtime ?? 'runc',
      containers,
      images: images.length,
      volumes: volumes.length,
      buildCacheBytes: (df.BuildCache ?? []).reduce((n, b) => n + (b.Size ?? 0), 0),
      ...(s?.seccompProfile ? { seccompProfile: s.seccompProfile } : {}),
      insecureRegistries: s?.registry.insecure ?? [],
      mirrors: s?.registry.mirrors ?? [],
      ...(this.network ? { networkBackend: 'netavark' } : {}),
      settings: s?.sources ?? {},
      ...(s?.file ? { configFile: s.file.file } : {}),
    });
  }

  /** Build a Dockerfile; resolves with the image id, manifest digest and per-step timings. */
  async build(options: BuildOptions): Promise<BuildResult> {
    // Loaded on first build: the frontend, solver, ops and p-queue are ~50 modules a daemon that is
    // only serving container/image requests never needs, and they weigh on its idle memory.
    const { build } = await import('./build/build.js');
    await this.#dropDebugState();
    const started = Date.now();
    this.#buildsRunning.set(started, (this.#buildsRunning.get(started) ?? 0) + 1);
    const otlp = this.#settings?.otlp;
    try {
      return await observedBuild(
        { records: this.records, ...(otlp ? { otel: () => (this.#otel ??= import('./records/otel.js').then((m) => m.OtelBuildExporter.create(otlp))) } : {}) },
        options,
        (opts) => build(this, opts),
      );
    } finally {
      const left = (this.#buildsRunning.get(started) ?? 1) - 1;
      if (left) this.#buildsRunning.set(started, left);
      else this.#buildsRunning.delete(started);
      this.#collectGarbage();
    }
  }

  /** Made on the first build that sends traces (OTEL_EXPORTER_OTLP_ENDPOINT): the SDK is only loaded then. */
  #otel?: Promise<import('./records/otel.js').OtelBuildExporter>;

  /**
   * What failed RUN steps kept for `tbuild debug` lasts until the next build of the root, or until
   * its record is removed (`builds rm`/`prune`: `keep` then names what remaining records hold).
   * What builds still running (here or in another process) may have just kept stays.
   */
  async #dropDebugState(keep: ReadonlySet<string> = new Set()): Promise<void> {
    const running = [...this.#buildsRunning.keys(), ...(await liveBuildStarts(this.root))];
    const before = running.length ? Math.min(...running) : Number.POSITIVE_INFINITY;
    const old: string[] = [];
    for await (const s of this.snapshots.walk()) if (s.labels[DEBUG_LABEL] && !keep.has(s.name) && Date.parse(s.created) < before) old.push(s.name);
    for (const name of old) await this.snapshots.remove(name).catch(() => {});
  }

  async dropOrphanDebugState(): Promise<void> {
    const named = new Set<string>();
    for (const s of await this.records.list()) {
      const r = await this.records.get(s.id).catch(() => undefined);
      for (const step of r?.steps ?? []) for (const l of step.debug?.layers ?? []) named.add(l.snapshot);
    }
    await this.#dropDebugState(named);
  }

  /** Start times of this engine's running builds: a prune leaves what they made alone. */
  readonly #buildsRunning = new Map<number, number>();

  async version(): Promise<ServerVersion> {
    const { versionBody } = await import('./api/system-info.js');
    return { Where: `embedded (root ${this.root})`, ...((await versionBody(this.#settings?.runtime ?? 'runc')) as Omit<ServerVersion, 'Where'>) };
  }

  async verify(opts: VerifyOptions = {}): Promise<VerifyReport> {
    const { verifyStore } = await import('./verify/verify.js');
    const images = this.images;
    const check = images.check?.bind(images);
    if (!check) throw new TbuildError('TB_NOT_IMPLEMENTED', 'this image store cannot be verified');
    return verifyStore({ root: this.root, content: this.content, snapshots: this.snapshots, cacheIndex: this.cacheIndex, images: { check, count: () => (images.count ? images.count() : images.list().then((l) => l.length)) } }, opts);
  }

  async pruneBuildCache(opts: BuildCachePruneRequest = {}): Promise<BuildCachePruneResult> {
    let olderThanMs: number | undefined;
    if (opts.until !== undefined) {
      const ns = parseGoDuration(opts.until);
      if (ns === undefined || ns < 0) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid until filter ${JSON.stringify(opts.until)}: want a duration such as 24h`);
      olderThanMs = ns / 1e6;
    }
    const keep: string[] = [];
    for (const img of await this.images.list()) for (const l of img.layers) keep.push(l.snapshot);
    // builds of this engine, and of every other live process on the root
    const running = [...this.#buildsRunning.keys(), ...(await liveBuildStarts(this.root))];
    const r = await pruneBuildCache(this.snapshots, this.cacheIndex, {
      all: opts.all,
      olderThanMs,
      keepBytes: opts.keepStorage,
      keep,
      protectCreatedAfter: running.length ? Math.min(...running) : undefined,
    });
    // git repositories and trees, stored downloads: with the rest, as BuildKit's source records
    const sources = await pruneSourceCaches(this.root, { ...(olderThanMs !== undefined ? { olderThanMs } : {}), ...(opts.keepStorage !== undefined ? { keepStorage: opts.keepStorage } : {}) });
    return { CachesDeleted: [...r.removed, ...sources.removed], SpaceReclaimed: r.spaceReclaimed + sources.bytes };
  }

  async load(input: Readable): Promise<string[]> {
    const lines: string[] = [];
    for (const img of await loadImageArchive(this, input)) {
      for (const m of img.moved ?? []) {
        lines.push(`The image ${familiarName(m.name)} already exists, renaming the old one with ID ${m.from} to empty string`);
      }
      if (img.names.length) for (const n of img.names) lines.push(`Loaded image: ${familiarName(n)}`);
      else lines.push(`Loaded image ID: ${img.id}`);
    }
    return lines;
  }

  save(refs: string[], format: ArchiveFormat = 'docker'): Promise<Readable> {
    return format === 'oci' ? saveOciLayout(this, refs) : saveDockerArchive(this, refs);
  }

  importImage(input: Readable, opts: ImportOptions): Promise<ImageRecord> {
    return importRootfs(this, input, opts);
  }

  commit(container: string, opts: CommitOptions): Promise<ImageRecord> {
    return commitContainer(this, container, opts);
  }

  pruneImages(opts: { all?: boolean; filters?: Filters } = {}): Promise<PruneResult> {
    return pruneImages(this.images, opts);
  }

  async inspectImage(ref: string): Promise<Record<string, unknown>> {
    const img = await this.images.resolve(ref);
    return imageInspect(img, await this.graphDriverDirs(img));
  }

  /** Where the image's layers live, as Docker's overlay2 GraphDriver data shows them. */
  async graphDriverDirs(img: ImageRecord): Promise<GraphDriverDirs> {
    const top = img.layers[img.layers.length - 1];
    if (!top) return {};
    try {
      const chain = await this.snapshots.chain(top.snapshot);
      const dirs = await Promise.all(chain.map((s) => this.snapshots.layerDir(s)));
      return { upper: dirs[0]!, lower: dirs.slice(1) };
    } catch {
      return {};
    }
  }

  df(): Promise<SystemDf> {
    return systemDf({
      images: this.images,
      containers: this.containers,
      volumes: this.volumes,
      // Docker's sizes: the bytes of the files (overlay2's DiffSize), not the blocks they take
      volumeSize: async (name) => contentBytes((await this.volumes!.inspect(name)).mountpoint),
      containerSize: async (c) => contentBytes(await this.snapshots.layerDir(c.snapshotKey)),
      buildCache: (images) => this.#buildCache(images),
    });
  }

  /** Build cache: committed snapshots that no image stacks on (results of steps, kept for reuse), and what remote sources keep. */
  async #buildCache(images: ImageRecord[]): Promise<BuildCacheRecord[]> {
    const imageSnaps = new Set<string>();
    for (const img of images) {
      const top = img.layers[img.layers.length - 1];
      if (top) for (const s of await this.snapshots.chain(top.snapshot).catch(() => [top.snapshot])) imageSnaps.add(s);
    }
    const out: BuildCacheRecord[] = [];
    for await (const s of this.snapshots.walk()) {
      // a container's init layer belongs to the container, not to the build cache
      if (s.kind !== 'committed' || imageSnaps.has(s.name) || s.labels['tbuild.container']) continue;
      const size = (await this.snapshots.usage(s.name).catch(() => ({ size: 0 }))).size;
      out.push({ ID: s.name, Parent: s.parent, Type: 'regular', Description: s.labels['tbuild.description'] ?? '', InUse: false, Shared: false, Size: size, CreatedAt: s.created, UsageCount: 0 });
    }
    for (const e of await sourceCacheEntries(this.root)) {
      out.push({ ID: e.id, Type: e.type, Description: e.description, InUse: false, Shared: false, Size: e.size, CreatedAt: e.createdAt.toISOString(), LastUsedAt: e.lastUsedAt.toISOString(), UsageCount: 0 });
    }
    return out;
  }

  /** Stop background work (container monitors keep running in their own processes). */
  async close(): Promise<void> {
    // A collection cut off half way is safe, but one that finishes frees what it promised.
    await this.#gcRunning;
    await this.registries.close();
    await this.containers.close();
    await this.network?.close();
    // spans a down collector still has not taken are given up, not waited for (the build warned)
    if (this.#otel) void this.#otel.then((e) => e.shutdown()).catch(() => {});
  }
}
