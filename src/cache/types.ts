import type { Readable } from 'node:stream';
import type { Digest } from '../util/digest.js';

export type { Digest };

// ───────────────────────── content store ─────────────────────────

export interface BlobInfo {
  digest: Digest;
  size: number;
}

/**
 * An in-flight write. Bytes are hashed as they arrive; `commit` fsyncs, checks size and digest
 * against what was expected, and renames the blob into place. Until `commit` resolves, no reader
 * can see the blob. `abort` (or a failed commit) removes the temp file.
 */
export interface IngestWriter {
  /**
   * Small chunks are gathered and written together: the writer may hold `chunk` until a later
   * write or the commit resolves, so the caller must not change it after handing it over.
   */
  write(chunk: Uint8Array): Promise<void>;
  /** Write out what was gathered: the writer then holds no chunk it was given. */
  flush(): Promise<void>;
  /**
   * Resolves to the blob's info. Committing content that already exists is not an error.
   * `digest`: what the caller's own hashing of the same bytes gave (`hashedByCaller` only).
   */
  commit(digest?: Digest): Promise<BlobInfo>;
  abort(): Promise<void>;
}

export interface IngestOptions {
  /** When given, the blob must hash to this digest, or commit fails with TB_CONTENT_DIGEST_MISMATCH. */
  expected?: Digest;
  /** When given, the blob must be this many bytes (TB_CONTENT_SIZE_MISMATCH). */
  size?: number;
  /**
   * The caller hashes the same bytes elsewhere (a worker thread that extracts them) and gives
   * the digest to `commit`: this writer does not hash them a second time on its thread.
   */
  hashedByCaller?: boolean;
}

/** sha256-addressed blobs under `<root>/content/`. */
export interface ContentStore {
  info(digest: Digest): Promise<BlobInfo | undefined>;
  /** Whole blob; throws TB_CONTENT_NOT_FOUND. */
  read(digest: Digest): Promise<Buffer>;
  /** Stream a blob; throws TB_CONTENT_NOT_FOUND. */
  createReadStream(digest: Digest): Readable;
  writer(opts?: IngestOptions): Promise<IngestWriter>;
  /** Where a blob's bytes are on this host, for readers in another thread or process (stores on disk). */
  blobPath?(digest: Digest): string;
  /** Convenience: ingest a buffer in one call. */
  put(data: Uint8Array | string, opts?: IngestOptions): Promise<BlobInfo>;
  /** Ingest a stream. */
  ingest(stream: Readable, opts?: IngestOptions): Promise<BlobInfo>;
  delete(digest: Digest): Promise<void>;
  walk(): AsyncIterable<BlobInfo>;
  /** Remove abandoned ingests (after a crash). */
  sweepIngests(): Promise<number>;
}

// ───────────────────────── snapshots ─────────────────────────

/** A mount the snapshotter describes and the mount helper (`src/util/mount.ts`) performs. */
export interface Mount {
  type: 'overlay' | 'bind' | 'tmpfs';
  source: string;
  options: string[];
  /**
   * Directory the mount is performed from. When set, relative paths in `options` (overlay
   * lowerdir/upperdir/workdir) are relative to it: this keeps deep layer chains within the
   * kernel's one-page limit on mount options.
   */
  cwd?: string;
}

export type SnapshotKind = 'active' | 'view' | 'committed';

export interface SnapshotInfo {
  /** Key (active/view) or name (committed). */
  name: string;
  parent?: string;
  kind: SnapshotKind;
  created: string;
  labels: Record<string, string>;
}

export interface SnapshotLease {
  /**
   * Hold committed snapshot `name` (with what it stands on). False when it is gone or being
   * removed right now: a cache hit on it is then a miss, and the step runs again.
   */
  add(name: string): Promise<boolean>;
  release(): Promise<void>;
}

export interface Usage {
  size: number;
  inodes: number;
}

/**
 * containerd's lifecycle on overlayfs: `prepare` an active (writable) snapshot on top of a committed
 * parent, mount it, write, then `commit` it under a name; `view` gives a read-only one. Only committed
 * snapshots can be parents. A committed snapshot's own directory holds exactly one layer's diff
 * (overlay upperdir form: whiteouts are 0/0 char devices, opaque dirs carry trusted.overlay.opaque=y).
 * Methods return mount descriptions; they never mount anything themselves.
 */
export interface Snapshotter {
  /**
   * A new active snapshot on `parent`. With `content`, a directory on the snapshotter's own
   * filesystem is moved in as its layer: a layer extracted while its parent was still being made
   * (a pull extracts every layer at once) joins the stack without being copied.
   */
  prepare(key: string, parent?: string, labels?: Record<string, string>, content?: string): Promise<Mount[]>;
  view(key: string, parent?: string, labels?: Record<string, string>): Promise<Mount[]>;
  /** Mounts of an existing active or view snapshot. */
  mounts(key: string): Promise<Mount[]>;
  /**
   * Turn active `key` into committed `name`, durably. TB_SNAPSHOT_EXISTS if `name` exists. With
   * `deferSync` it is durable only once `sync([name, …])` has been called: several commits in a
   * row (a pull stacking its layers) then cost the disk one flush instead of one each. Until then
   * nothing durable may name it.
   */
  commit(name: string, key: string, labels?: Record<string, string>, opts?: { deferSync?: boolean }): Promise<void>;
  /**
   * Make the records of the named snapshots durable, whoever committed them (another process may
   * have deferred its flush): what a caller does before it records anything that names them.
   */
  sync(names: readonly string[]): Promise<void>;
  /**
   * TB_SNAPSHOT_STATE when other snapshots still have it as parent, or a lease (of any live
   * process) holds it.
   */
  remove(key: string): Promise<void>;
  /**
   * A lease, as containerd's: the committed snapshots added to it cannot be removed, in this
   * process or any other, until it is released (or its process dies).
   */
  lease(): SnapshotLease;
  stat(key: string): Promise<SnapshotInfo>;
  exists(key: string): Promise<boolean>;
  /** Disk used by this snapshot's own layer (not its parents). */
  usage(key: string): Promise<Usage>;
  walk(): AsyncIterable<SnapshotInfo>;
  /** The directory holding this snapshot's own layer (upperdir form). For diffing and applying layers. */
  layerDir(key: string): Promise<string>;
  /** Parent chain from this snapshot down to the root layer: [self, parent, grandparent, …]. */
  chain(key: string): Promise<string[]>;
  /**
   * Every record's parent and directory, directories without records, snapshots left by dead
   * processes, duplicate names, temp files; `repair` removes the orphans among them.
   */
  check(opts: { repair: boolean }): Promise<StoreProblem[]>;
}

// ───────────────────────── layers ─────────────────────────

export interface LayerDescriptor {
  /** sha256 of the uncompressed tar. */
  diffId: Digest;
  /** Uncompressed tar size in bytes. */
  size: number;
  /** The bytes as given, before decompression (`ApplyTarOptions.digestInput` only). */
  input?: BlobInfo;
}

export interface LayerTarOptions {
  /** Clamp every mtime to this (SOURCE_DATE_EPOCH), seconds. */
  sourceDateEpoch?: number;
}

export interface ApplyTarOptions {
  /**
   * Create character/block device nodes found in the tar (whiteouts are always made). Off by
   * default: a layer from outside should not be able to plant /dev/sda in a build's rootfs.
   */
  allowDevices?: boolean;
  /**
   * Turn `.wh.` entries into overlay whiteouts and opaque markers (default true: a layer tar).
   * False for plain archives (`docker cp` into a container): `.wh.x` is then just a file.
   */
  whiteouts?: boolean;
  /**
   * The confinement root when `dir` is a directory inside a larger tree (e.g. a container's
   * rootfs): symlinks met while extracting resolve against it, as they would inside the
   * container. Must contain `dir`. Defaults to `dir`.
   */
  root?: string;
  /**
   * Extract on a worker thread (another core), this thread only reading `tar`: for large layers
   * that arrive while other work goes on (a pull's downloads). Not worth it for small ones.
   */
  offThread?: boolean;
  /**
   * With `offThread`: the worker also hashes the bytes as given (compressed, as they came), so a
   * caller that stores them too need not hash them again on its own thread. The result's `input`
   * holds them once every byte was taken.
   */
  digestInput?: boolean;
  /**
   * With `offThread`: the caller is done with each chunk of `tar` once it has been read, so its
   * memory moves to the worker as it is (a download's socket reads) instead of being copied.
   */
  handOver?: boolean;
  /**
   * Refuse to replace a directory with a non-directory or the reverse (the Engine API's
   * `noOverwriteDirNonDir`, which `docker cp` always sends); by default the entry replaces it.
   */
  noOverwriteDirNonDir?: boolean;
}

/**
 * Converts between a snapshot's upperdir and an OCI layer tar. Same tree in → same bytes out.
 * Implemented in `src/cache/layer/`.
 */
export interface LayerConverter {
  /** Stream the layer tar of one upperdir (whiteouts as `.wh.` entries, sorted, normalized headers). */
  tarFromDir(dir: string, opts?: LayerTarOptions): Readable;
  /** tarFromDir + sha256 + size, without keeping the bytes. */
  describeDir(dir: string, opts?: LayerTarOptions): Promise<LayerDescriptor>;
  /**
   * Extract a layer tar (plain, gzip, zstd: detected by magic bytes) into an upperdir, turning
   * `.wh.` entries back into overlay form. Every path goes through `resolveInRoot`. Returns the
   * diffID of the uncompressed stream.
   */
  applyTar(tar: Readable | AsyncIterable<Buffer>, dir: string, opts?: ApplyTarOptions): Promise<LayerDescriptor>;
  /** Get ready for `jobs` extractions `offThread` at once (start their threads) before they come. */
  warmOffThread?(jobs: number): void;
}

// ───────────────────────── cache index ─────────────────────────

/** What a cache key resolves to: a committed snapshot (or none, for config-only results). */
export interface CacheRecord {
  key: Digest;
  /** Committed snapshot name holding the result's filesystem (its chain), if any. */
  snapshot?: string;
  /** Op-specific payload (e.g. image config fragments) kept with the record. */
  meta?: Record<string, unknown>;
  created: string;
  lastUsed?: string;
}

// ───────────────────────── checks (`tbuild system verify`) ─────────────────────────

/** One thing found wrong in the state root. */
export interface StoreProblem {
  /** Stable kind, such as `blob-digest` or `snapshot-orphan`. */
  kind: string;
  /** What it is about: a digest, a snapshot, an image id, a name, a path. */
  subject: string;
  detail: string;
  /** An orphan nothing refers to: `--repair` removes it. Others need a person (or a rebuild). */
  repairable: boolean;
  /** `--repair` removed it. */
  repaired?: boolean;
}

/** Persistent, crash-safe map from cache key to result. */
export interface CacheIndex {
  get(key: Digest): Promise<CacheRecord | undefined>;
  set(record: CacheRecord): Promise<void>;
  delete(key: Digest): Promise<void>;
  walk(): AsyncIterable<CacheRecord>;
}
