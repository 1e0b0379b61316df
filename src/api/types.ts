import type { Filters } from '../util/filters.js';
import type { CommitOptions } from '../containers/commit.js';
import type { Readable } from 'node:stream';
import type { ImageRecord, ImageStore } from '../images/types.js';
import type { PruneResult } from '../images/prune.js';
import type { ImportOptions } from '../images/import.js';
import type { ContainerManager } from '../containers/types.js';
import type { Volumes } from '../volumes/types.js';
import type { BuildOptions, BuildResult } from '../build/types.js';
import type { Registries } from '../registry/types.js';
import type { VerifyOptions, VerifyReport } from '../verify/types.js';

export type { PruneResult, ImportOptions };

/** Docker's `GET /system/df` body, the parts tbuild fills; both engines answer `df()` with it. */
export interface SystemDf {
  LayersSize: number;
  Images: Array<{ Id: string; Size: number; SharedSize: number; Containers: number; [k: string]: unknown }>;
  Containers: Array<{ Id: string; State: string; SizeRw?: number; [k: string]: unknown }>;
  Volumes: Array<{ Name: string; UsageData?: { Size: number; RefCount: number }; [k: string]: unknown }> | null;
  BuildCache: Array<BuildCacheRecord> | null;
}

/** One `BuildCache` entry of `/system/df` (Docker's field names). */
export interface BuildCacheRecord {
  ID: string;
  Parent?: string;
  Type: string;
  Description: string;
  InUse: boolean;
  Shared: boolean;
  Size: number;
  CreatedAt: string;
  LastUsedAt?: string;
  UsageCount: number;
}

export type ArchiveFormat = 'docker' | 'oci';

/**
 * What a client of tbuild can do: the embedded `Engine` and the CLI's daemon client both implement
 * it, the daemon serves it, and the CLI is written against it without knowing which side it has.
 */
/**
 * Networks as the Docker API shows them (`docker network …`): the local engine shapes its
 * network manager's records, the remote one passes the daemon's JSON through.
 */
export interface NetworkApi {
  /** Every network, `bridge`, `host` and `none` included (Docker's `GET /networks` entries). */
  list(): Promise<Array<Record<string, unknown>>>;
  /** TB_NETWORK_NOT_FOUND when no network has that name, id or id prefix. */
  inspect(ref: string): Promise<Record<string, unknown>>;
  create(opts: { name: string; subnet?: string; gateway?: string; internal?: boolean; labels?: Record<string, string> }): Promise<{ Id: string; Warning: string }>;
  remove(ref: string): Promise<void>;
  /** Names of the removed networks (`until`, `label`, `label!` filters). */
  prune(filters?: Filters): Promise<string[]>;
}

export interface EngineApi {
  /** The state root (embedded), or the daemon's address. */
  readonly root: string;
  readonly images: ImageStore;
  readonly containers: ContainerManager;
  /** Named volumes; absent only on engines without a volume store. */
  readonly volumes?: Volumes;
  /** Networks; absent on engines without a network manager. */
  readonly networks?: NetworkApi;
  /** Pull, push and login checks (the daemon's `/images/create`, `/images/{name}/push`, `/auth`). */
  readonly registries: Registries;
  build(options: BuildOptions): Promise<BuildResult>;
  /** Load a docker-archive or OCI-layout tar; resolves with Docker's lines (`Loaded image: …`). */
  load(input: Readable): Promise<string[]>;
  /** A tar of the images in `format` (default docker). */
  save(refs: string[], format?: ArchiveFormat): Promise<Readable>;
  /** A one-layer image from a rootfs tar (`docker import`). */
  importImage(input: Readable, opts: ImportOptions): Promise<ImageRecord>;
  /** A container's changes as a new image on its image (`docker commit`). */
  commit(container: string, opts: CommitOptions): Promise<ImageRecord>;
  /** Dangling images, or with `all` every image no container uses. */
  /** `filters`: Docker's `until`, `label`, `label!`, `dangling` (unknown names refused). */
  pruneImages(opts?: { all?: boolean; filters?: Filters }): Promise<PruneResult>;
  /** Docker's image-inspect JSON for one image. */
  inspectImage(ref: string): Promise<Record<string, unknown>>;
  df(): Promise<SystemDf>;
  /** Who answers: the embedded engine, or the daemon's `GET /version`. */
  version(): Promise<ServerVersion>;
  /** `docker info`'s fields (and tbuild's: network backend, totals, where settings came from). */
  info(): Promise<Record<string, unknown>>;
  /**
   * Docker's event stream (`GET /events`): only a daemon keeps one, so the embedded engine has
   * no such method and the CLI says so.
   */
  events?(opts: EventsRequest): AsyncIterable<Record<string, unknown>>;
  /** Free build cache (`docker builder prune`): Docker's `/build/prune` answer. */
  pruneBuildCache(opts?: BuildCachePruneRequest): Promise<BuildCachePruneResult>;
  /**
   * `tbuild system verify [--repair]`: blobs, snapshots, images, names, cache records and what
   * dead processes left; with `repair` the orphans are removed. A daemon answers `POST /tbuild/system/verify`.
   */
  verify(opts?: VerifyOptions): Promise<VerifyReport>;
  /** Drop debug state whose build record was removed (embedded engine only; `builds rm`/`prune`). */
  dropOrphanDebugState?(): Promise<void>;
  /** The snapshotter (embedded engine only): `tbuild debug` mounts the stage files a step's binds read. */
  readonly snapshots?: import('../cache/types.js').Snapshotter;
  /** Build records (`tbuild builds`): the embedded engine's own; a daemon serves its at `GET /tbuild/builds`. */
  readonly records?: import('../records/types.js').BuildRecords;
  close(): Promise<void>;
}

export interface EventsRequest {
  since?: string;
  until?: string;
  /** Docker's filter names (`type`, `event`, `container`, `image`, `volume`, `label`, …) to values. */
  filters?: Record<string, string[]>;
  signal?: AbortSignal;
}

export interface BuildCachePruneRequest {
  /** Every result no image or container uses, not only unreferenced ones. */
  all?: boolean;
  /** Only what was last used longer ago than this (`24h`, `90m`, `3600s`). */
  until?: string;
  /** Keep the most recently used cache up to this many bytes. */
  keepStorage?: number;
}

export interface BuildCachePruneResult {
  CachesDeleted: string[];
  SpaceReclaimed: number;
}

/** The server side of `tbuild version`. */
export interface ServerVersion {
  /** `embedded` (engine in the CLI's process) or the daemon's address. */
  Where: string;
  /** Docker's components: the engine, tbuild itself, the runtime (runc) with their versions. */
  Components: Array<{ Name: string; Version: string; Details?: Record<string, string> }>;
  Version: string;
  ApiVersion: string;
  MinAPIVersion: string;
  Os: string;
  Arch: string;
  KernelVersion: string;
}
