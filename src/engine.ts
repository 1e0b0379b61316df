import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { ContentStore, Snapshotter, LayerConverter, CacheIndex } from './cache/types.js';
import type { Executor } from './exec/types.js';
import type { ImageStore } from './images/types.js';
import type { ContainerManager, Volumes } from './containers/types.js';
import type { NetworkManager } from './network/types.js';
import { openNetworkManager } from './network/manager.js';
import type { BuildOptions, BuildResult } from './build/types.js';
import { openContentStore } from './cache/content-store.js';
import { openSnapshotter } from './cache/snapshotter.js';
import { layerConverter } from './cache/layer/index.js';
import { openCacheIndex } from './cache/cache-index.js';
import { openImageStore } from './images/image-store.js';
import { createRuncExecutor } from './exec/runc.js';
import { openContainerManager } from './containers/manager.js';
import { openVolumeStore } from './volumes/store.js';

import { DEFAULT_ROOT } from './defaults.js';

export { DEFAULT_ROOT };

export interface EngineOptions {
  /** State root; default `$TBUILD_ROOT` or /var/lib/tbuild. */
  root?: string;
  /** Low-level OCI runtime binary; default `runc`. */
  runtime?: string;
  /**
   * The default network: bridge name (`$TBUILD_BRIDGE`, default tbuild0) and subnet
   * (`$TBUILD_BRIDGE_SUBNET`, default 10.232.0.0/16); user networks without `--subnet` get a /24
   * of `userPool` (`$TBUILD_NETWORK_POOL`, default 10.233.0.0/16).
   */
  network?: { bridge?: string; subnet?: string; userPool?: string };
}

/** The parts one state root is made of; what the solver, containers and daemon receive. */
export interface EngineParts {
  root: string;
  content: ContentStore;
  snapshots: Snapshotter;
  layers: LayerConverter;
  cacheIndex: CacheIndex;
  images: ImageStore;
  executor: Executor;
  /** Namespaces and networks (netavark); optional so engine look-alikes without a root fit. */
  network?: NetworkManager;
}

/** The stores and executor of one state root, without containers or the solver (tests use it alone). */
export async function openEngineParts(opts: EngineOptions = {}): Promise<EngineParts> {
  const root = resolve(opts.root ?? process.env.TBUILD_ROOT ?? DEFAULT_ROOT);
  await mkdir(root, { recursive: true, mode: 0o711 });
  const content = await openContentStore(root);
  const snapshots = await openSnapshotter(root);
  const layers = layerConverter;
  const cacheIndex = await openCacheIndex(root);
  const images = await openImageStore({ root, content, snapshots, layers });
  const executor = createRuncExecutor({ root, runtime: opts.runtime ?? process.env.TBUILD_RUNTIME ?? 'runc' });
  const env = process.env;
  const network = await openNetworkManager({
    root,
    bridge: opts.network?.bridge ?? env.TBUILD_BRIDGE,
    subnet: opts.network?.subnet ?? env.TBUILD_BRIDGE_SUBNET,
    userPool: opts.network?.userPool ?? env.TBUILD_NETWORK_POOL,
  });
  return { root, content, snapshots, layers, cacheIndex, images, executor, network };
}

/**
 * The composition root: wires parser, solver, cache, exec and exporter for one state root.
 *
 * @example
 * const engine = await Engine.open({ root: '/tmp/tb' });
 * const { imageId } = await engine.build({ context: './app', tags: ['app:dev'] });
 */
export class Engine implements EngineParts {
  readonly root: string;
  readonly content: ContentStore;
  readonly snapshots: Snapshotter;
  readonly layers: LayerConverter;
  readonly cacheIndex: CacheIndex;
  readonly images: ImageStore;
  readonly executor: Executor;
  readonly network?: NetworkManager;
  readonly containers: ContainerManager;
  /**
   * The root's named volumes: one store, shared with the container manager (which checks use).
   * Optional in the type so engine look-alikes without a local root (the CLI's remote engine) fit.
   */
  readonly volumes?: Volumes;

  private constructor(parts: EngineParts, containers: ContainerManager, volumes: Volumes) {
    this.root = parts.root;
    this.content = parts.content;
    this.snapshots = parts.snapshots;
    this.layers = parts.layers;
    this.cacheIndex = parts.cacheIndex;
    this.images = parts.images;
    this.executor = parts.executor;
    this.network = parts.network;
    this.containers = containers;
    this.volumes = volumes;
  }

  static async open(opts: EngineOptions = {}): Promise<Engine> {
    const parts = await openEngineParts(opts);
    // What crashed processes held (namespaces, netavark state, address leases) goes first.
    await parts.network?.reconcile();
    const volumes = openVolumeStore(parts.root);
    const containers = await openContainerManager(parts, { volumes });
    return new Engine(parts, containers, volumes);
  }

  /** Build a Dockerfile; resolves with the image id, manifest digest and per-step timings. */
  async build(options: BuildOptions): Promise<BuildResult> {
    // Loaded on first build: the solver, its ops and p-queue are ~50 modules a daemon that is only
    // serving container/image requests never needs, and they weigh on its idle memory.
    const { build } = await import('./build/build.js');
    return build(this, options);
  }

  /** Stop background work (container monitors keep running in their own processes). */
  async close(): Promise<void> {
    await this.containers.close();
    await this.network?.close();
  }
}
