import type { Digest } from '../util/digest.js';
import type { ContentStore, Snapshotter, LayerConverter, CacheIndex } from '../cache/types.js';
import type { Executor, Resources } from '../exec/types.js';
import type { ImageRecord, ImageStore } from '../images/types.js';
import type { TransferStatus } from '../solver/result.js';
import type { Ulimit } from '../exec/security/types.js';
import type { NetworkManager } from '../network/types.js';
import type { SourceTree, BuildContext, SecretSource } from '../session/types.js';

/**
 * The stores and executor of one state root: what ops (and the layers above them that commit
 * snapshots or images) are given by the composition root. Nothing here reads settings.
 */
export interface WorkerDeps {
  root: string;
  content: ContentStore;
  snapshots: Snapshotter;
  layers: LayerConverter;
  cacheIndex: CacheIndex;
  images: ImageStore;
  executor: Executor;
  /** Namespaces and networks (netavark); optional so engine look-alikes without a root fit. */
  network?: NetworkManager;
  /** daemon.json's `dns`/`dns-search`/`dns-opts`: resolv.conf for RUN steps and containers on the default network that name none. */
  dns?: import('../exec/types.js').RunSpec['dns'];
}

/** Opens one connection to an ssh agent (each client of the forwarded socket gets its own). */
export type SshConnector = () => import('node:stream').Duplex;

/** What ops need from the build they run in. */
export interface OpEnv {
  parts: WorkerDeps;
  context: BuildContext;
  secrets: Record<string, SecretSource>;
  /** Local named contexts (`--build-context NAME=DIR`) that `COPY --from=NAME` reads, opened like the build context. */
  named?: Record<string, SourceTree>;
  /** Secrets not in `secrets`, asked of the client when a step mounts them (buildx's session). */
  secretLookup?: (id: string) => Promise<Uint8Array | undefined>;
  /** A connection to the client's ssh agent by id (`--ssh ID`), for `RUN --mount=type=ssh`; undefined when the build has none by that id. */
  sshAgent?: (id: string) => SshConnector | undefined;
  /** Proxy build args (`HTTP_PROXY=…`) every RUN gets unless it sets them itself; outside all keys. */
  proxyEnv: string[];
  /**
   * Holds the snapshots this build found in the cache (and its base images' layers) against a
   * prune or `rmi` in any process until the build ends.
   */
  lease?: import('../cache/types.js').SnapshotLease;
  /** Start making a RUN step's network namespace ahead (the first step that misses the cache calls it). */
  warmNetwork?: () => void;
  /** Scratch space for this build (mount points, secret files): `<root>/tmp/b-<id>`, removed at the end. */
  tmp: string;
  /** `--shm-size` and `--ulimit` for every RUN step (part of RUN steps' keys, as in BuildKit's ExecOp). */
  runLimits?: { shmSize?: number; ulimits?: Ulimit[] };
  /** Cgroup limits of every RUN step's container (the classic builder's `--memory`, `--cpu-shares`…); not part of the cache key. */
  runResources?: Resources;
  /** SOURCE_DATE_EPOCH (seconds): new layers' mtimes are clamped to it; it is part of their steps' keys. */
  sourceDateEpoch?: number;
  /** Base images resolved on their registry but not pulled yet (by image id): pulled when a step needs their files. */
  lazyBases?: Map<Digest, LazyBase>;
}

/** A `FROM` image known from its registry (config and layer list), whose layers are fetched on first use. */
export interface LazyBase {
  ref: string;
  diffIds: Digest[];
  created?: string;
  /** Pull it (exactly the resolved image) into the store; progress per layer. */
  pull(onStatus?: (s: TransferStatus) => void): Promise<ImageRecord>;
}

/**
 * One entry of what remote sources leave in the state root between builds (a git repository or
 * kept tree, a stored download): what `builder du` lists beside the build cache's snapshots and
 * `builder prune` may remove.
 */
export interface SourceCacheEntry {
  id: string;
  /** BuildKit's usage record type: `source.git.checkout` for git, `regular` for a download. */
  type: 'source.git.checkout' | 'regular';
  description: string;
  size: number;
  createdAt: Date;
  lastUsedAt: Date;
  /** Remove it under its lock; false when a build is using it (it stays). */
  remove(): Promise<boolean>;
}
