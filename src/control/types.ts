import type { Transport } from '@connectrpc/connect';
import type { BuildOptions, BuildResult } from '../build/types.js';
import type { BuildCachePruneRequest, BuildCachePruneResult, SystemDf } from '../api/types.js';

/**
 * BuildKit's gRPC API, as buildx's `docker` and `remote` drivers use it: the Control service
 * (Solve, Status, DiskUsage, Prune, Info, ListWorkers), the gateway bridge buildx drives a build
 * through, and the client's session (context sync, secrets, ssh, exports) that tbuild calls back.
 *
 * Lifecycle: the daemon hands every upgraded `/grpc` connection to `ControlServer.serve`, every
 * `/session` connection to `ControlServer.attachSession`; `close()` ends them all.
 */

/** What the control API needs from the engine (the daemon's engine satisfies it). */
export interface ControlBackend {
  /** State root: synced contexts live under `<root>/buildkit/`. */
  readonly root: string;
  build(opts: BuildOptions): Promise<BuildResult>;
  df(): Promise<SystemDf>;
  pruneBuildCache(opts: BuildCachePruneRequest): Promise<BuildCachePruneResult>;
  /** Build records: BuildKit's build history (`ListenBuildHistory`). */
  readonly records?: import('../records/types.js').BuildRecords;
  /** Networks, for the default bridge's gateway: what `host-gateway` means to buildx (it asks the worker's labels). */
  readonly networks?: { inspect(ref: string): Promise<Record<string, unknown>> };
}

/** A client's session: a gRPC server on the client's side of a hijacked connection. */
export interface ClientSession {
  readonly id: string;
  readonly name: string;
  /** Stable per client directory set: keys the incremental context state. */
  readonly sharedKey: string;
  /** Full method names the client serves, e.g. `/moby.filesync.v1.FileSync/DiffCopy`. */
  readonly methods: ReadonlySet<string>;
  readonly transport: Transport;
  /** Aborted when the connection drops. */
  readonly signal: AbortSignal;
  close(): void;
}

export interface ControlServerOptions {
  /** Entitlements the daemon's owner allows builds to ask for (`--allow-insecure-entitlement`). */
  allowedEntitlements?: readonly string[];
  /** Version reported by `Info` and `ListWorkers`. */
  version: string;
  log?: (line: string) => void;
}
