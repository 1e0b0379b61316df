import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { ContentStore, Snapshotter, LayerConverter, CacheIndex } from './cache/types.js';
import type { Executor } from './exec/types.js';
import type { ImageStore } from './exporter/types.js';
import type { ContainerManager, Volumes } from './containers/types.js';
import type { BuildOptions, BuildResult } from './solver/types.js';
import type { Registries, RegistryOptions } from './registry/types.js';
import { openContentStore } from './cache/content-store.js';
import { openSnapshotter } from './cache/snapshotter.js';
import { layerConverter } from './cache/layer/index.js';
import { openCacheIndex } from './cache/cache-index.js';
import { openImageStore } from './exporter/image-store.js';
import { createRuncExecutor } from './exec/runc.js';
import { openContainerManager } from './containers/manager.js';
import { openVolumeStore } from './containers/volumes.js';
import { RegistryAccess } from './registry/access.js';

import { DEFAULT_ROOT } from './defaults.js';

export { DEFAULT_ROOT };

export interface EngineOptions {
  /** State root; default `$TBUILD_ROOT` or /var/lib/tbuild. */
  root?: string;
  /** Low-level OCI runtime binary; default `runc`. */
  runtime?: string;
  /**
   * How registries are reached. Default: `$TBUILD_INSECURE_REGISTRIES` (comma-separated hosts or
   * CIDRs allowed over plain HTTP; loopback always is), `$TBUILD_REGISTRY_CERTS_DIR` (default
   * /etc/docker/certs.d), credentials from `$DOCKER_CONFIG/config.json` (default ~/.docker).
   */
  registry?: RegistryOptions;
}

function listSetting(v: string | undefined): string[] {
  return (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

/** Registry settings from the environment, overridden by what the caller gives. */
function registryOptions(given: RegistryOptions | undefined): RegistryOptions {
  return {
    insecure: listSetting(process.env.TBUILD_INSECURE_REGISTRIES),
    ...(process.env.TBUILD_REGISTRY_CERTS_DIR ? { certsDir: process.env.TBUILD_REGISTRY_CERTS_DIR } : {}),
    ...given,
  };
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
  return { root, content, snapshots, layers, cacheIndex, images, executor };
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
  readonly containers: ContainerManager;
  /**
   * The root's named volumes: one store, shared with the container manager (which checks use).
   * Optional in the type so engine look-alikes without a local root (the CLI's remote engine) fit.
   */
  readonly volumes?: Volumes;
  /** Pull, push and login checks against registries. */
  readonly registries: Registries;

  private constructor(parts: EngineParts, containers: ContainerManager, volumes: Volumes, registries: Registries) {
    this.registries = registries;
    this.root = parts.root;
    this.content = parts.content;
    this.snapshots = parts.snapshots;
    this.layers = parts.layers;
    this.cacheIndex = parts.cacheIndex;
    this.images = parts.images;
    this.executor = parts.executor;
    this.containers = containers;
    this.volumes = volumes;
  }

  static async open(opts: EngineOptions = {}): Promise<Engine> {
    const parts = await openEngineParts(opts);
    const volumes = openVolumeStore(parts.root);
    const containers = await openContainerManager(parts, { volumes });
    const dockerConfig = process.env.DOCKER_CONFIG;
    const registries = new RegistryAccess(parts, registryOptions(opts.registry), async () => {
      const { DockerConfigCredentials, dockerConfigDir } = await import('./registry/credentials.js');
      return new DockerConfigCredentials(dockerConfigDir({ DOCKER_CONFIG: dockerConfig }));
    });
    return new Engine(parts, containers, volumes, registries);
  }

  /** Build a Dockerfile; resolves with the image id, manifest digest and per-step timings. */
  async build(options: BuildOptions): Promise<BuildResult> {
    // Loaded on first build: the solver, its ops and p-queue are ~50 modules a daemon that is only
    // serving container/image requests never needs, and they weigh on its idle memory.
    const { build } = await import('./solver/build.js');
    return build(this, options);
  }

  /** Stop background work (container monitors keep running in their own processes). */
  async close(): Promise<void> {
    await this.registries.close();
    await this.containers.close();
  }
}
