import type { ServerVersion } from '../api/types.js';
import type { NetworkApi } from '../api/types.js';
import type { Duplex, Readable } from 'node:stream';
import type { IncomingHttpHeaders } from 'node:http';
import type { GraphDriverDirs, ImageRecord, ImageStore } from '../images/types.js';
import type { ContainerManager } from '../containers/types.js';
import type { BuildOptions, BuildResult } from '../build/types.js';
import type { BuildCachePruneRequest, BuildCachePruneResult, SystemDf } from '../api/types.js';
import type { Registries } from '../registry/types.js';
import type { VerifyOptions, VerifyReport } from '../verify/types.js';

/** The part of `Engine` the daemon uses; tests hand it a double. */
export interface DaemonEngine {
  readonly root: string;
  readonly images: ImageStore;
  readonly containers: ContainerManager;
  /** `/networks`; absent when the engine has no network manager. */
  readonly networks?: NetworkApi;
  build(opts: BuildOptions): Promise<BuildResult>;
  /** `GET /system/df`. */
  df(): Promise<SystemDf>;
  /** `GET /info`. */
  info(): Promise<Record<string, unknown>>;
  /** Where an image's layers live, for `GET /images/{name}/json`'s GraphDriver data. */
  graphDriverDirs?(img: ImageRecord): Promise<GraphDriverDirs>;
  /** `GET /version`. */
  version(): Promise<ServerVersion>;
  /** `POST /build/prune`. */
  pruneBuildCache(opts: BuildCachePruneRequest): Promise<BuildCachePruneResult>;
  /** `POST /tbuild/system/verify`; absent on engines without a local store. */
  verify?(opts: VerifyOptions): Promise<VerifyReport>;
  /** `GET /tbuild/builds…`: the records builds leave (absent on engines that keep none). */
  readonly records?: import('../records/types.js').BuildRecords;
  /** Pull, push, login checks; absent on engines without registry access (then those routes answer 501). */
  readonly registries?: Registries;
}

/** Docker's volume shape, as `GET /volumes` returns it. */
export interface VolumeInfo {
  Name: string;
  Driver: string;
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  Scope: 'local';
  Options: Record<string, string>;
}

/** Named volumes, adapted from the runtime's volume store. */
export interface DaemonVolumes {
  create(name: string | undefined, labels: Record<string, string>): Promise<{ info: VolumeInfo; created: boolean }>;
  list(): Promise<VolumeInfo[]>;
  inspect(name: string): Promise<VolumeInfo>;
  remove(name: string, force: boolean): Promise<void>;
  /** Unused volumes: anonymous ones only, unless `all`; with `labels`, those matching every filter. */
  prune(opts: { all?: boolean; labels?: string[] }): Promise<{ deleted: string[]; spaceReclaimed: number }>;
  /** Whether a container mounts it (the `dangling` filter). */
  inUse(name: string): Promise<boolean>;
  /** Bytes used, for `system df`; optional. */
  usage?(name: string): Promise<number>;
}

/** Image archive and filesystem-import operations, adapted from the exporter and container modules. */
export interface DaemonArchives {
  /** docker-archive tar of the named images. */
  save(refs: string[]): Promise<Readable>;
  /** Load a docker-archive (or OCI) tar; returns the names (or ids) loaded. */
  load(tar: Readable): Promise<string[]>;
  /** `docker import`: a rootfs tar becomes a one-layer image. */
  importTar?(tar: Readable, opts: { ref?: string; changes: string[]; message?: string; platform?: string }): Promise<ImageRecord>;
  /** `docker commit`: a container's writable layer becomes a new image on top of its image. */
  commit?(container: string, opts: { ref?: string; changes: string[]; comment?: string; author?: string; pause?: boolean }): Promise<ImageRecord>;
}

/** BuildKit's gRPC API (buildx): connections the daemon has upgraded to h2c are handed over whole. */
export interface BuildkitEndpoint {
  /** `POST /grpc`: the client speaks gRPC to tbuild's control API on this socket. */
  serve(socket: Duplex, head: Buffer): void;
  /** `POST /session`: the client serves its session on this socket; the headers name it. */
  attachSession(socket: Duplex, head: Buffer, headers: IncomingHttpHeaders): void;
  /** The same API on an address of its own (`--buildkit-addr`): TCP with mutual TLS, or a unix socket. */
  listen(addr: string, tls?: { ca: string; cert: string; key: string }): Promise<{ address: string; close(): Promise<void> }>;
  close(): void;
}

/** Everything the daemon serves. Optional parts answer 501 until they are wired. */
export interface DaemonServices {
  engine: DaemonEngine;
  volumes?: DaemonVolumes;
  archives?: DaemonArchives;
  /** Daemon identity and paths, for `info`. */
  name?: string;
  /** What `info` warns about this daemon's own set-up (plain TCP). */
  warnings?: string[];
  /** Where the daemon's own settings came from (`hosts`, `tls`), beside the engine's in `info`'s Settings. */
  settingSources?: Record<string, string>;
  /** Entitlements builds may ask for (`--allow-insecure-entitlement`); none by default. */
  allowedEntitlements?: string[];
  /** `/grpc` and `/session`; absent means buildx falls back (the endpoints answer 501). */
  buildkit?: BuildkitEndpoint;
}
