import type { Digest } from '../util/digest.js';
import type { StoreProblem } from '../cache/types.js';

/** The `config` object of an OCI/Docker image config (Docker's field names). */
export interface ContainerConfig {
  User?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, Record<string, never>>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  Healthcheck?: {
    Test?: string[];
    Interval?: number;
    Timeout?: number;
    StartPeriod?: number;
    StartInterval?: number;
    Retries?: number;
  };
  OnBuild?: string[] | null;
  Shell?: string[];
  ArgsEscaped?: boolean;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

/** OCI image config (application/vnd.oci.image.config.v1+json), Docker-compatible. */
export interface ImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  created?: string;
  author?: string;
  /** Docker's top-level image comment (commit/import `-m`). */
  comment?: string;
  config: ContainerConfig;
  rootfs: { type: 'layers'; diff_ids: Digest[] };
  history?: HistoryEntry[];
}

export interface ImageLayer {
  diffId: Digest;
  /** Uncompressed size (of the layer tar: what manifests describe). */
  size: number;
  /** Committed snapshot holding this layer and (through parents) all layers below it. */
  snapshot: string;
  /** Bytes of the files in the layer, as Docker reports layer and image sizes (set by the image store). */
  contentSize?: number;
  /**
   * The registry blob a pulled layer came as, kept in the content store instead of the layer tar
   * (which it gives back, decompressed and checked against the diffID): a pull writes the layer
   * once compressed and once extracted, and a push elsewhere sends these bytes unchanged.
   */
  compressed?: CompressedLayer;
}

export interface CompressedLayer {
  digest: Digest;
  size: number;
  mediaType: string;
}

/** An image as the local store keeps it. `id` is the config digest, as Docker shows it. */
export interface ImageRecord {
  id: Digest;
  config: ImageConfig;
  layers: ImageLayer[];
  /** Normalized references (`docker.io/library/busybox:latest`) pointing at this image. */
  names: string[];
  /** Repo digests (`docker.io/library/busybox@sha256:…`) known for it, e.g. after a pull or push. */
  repoDigests: string[];
  /** When the record was created locally (ISO 8601). */
  created: string;
  /** The manifest's OCI annotations (`--annotation`), carried into pushes and saved archives. */
  annotations?: Record<string, string>;
}

export interface NewImage {
  config: ImageConfig;
  /** Bottom-up; `layers[i].diffId` must equal `config.rootfs.diff_ids[i]`. */
  layers: ImageLayer[];
  /** References to point at it (moved from any image that had them). */
  names?: string[];
  /**
   * The exact config bytes, when they must be kept (a loaded or pulled image keeps its id).
   * Must parse to `config`. Without it the store serializes `config` canonically.
   */
  configJson?: string;
  /** Repo digests to record (`repo@sha256:…`), e.g. after a pull. */
  repoDigests?: string[];
  /**
   * The manifest's annotations. A build gives its own (none is `{}`): the image's manifest is the
   * last build's. Absent (a pull, a load, a commit): the image keeps what it had.
   */
  annotations?: Record<string, string>;
}

/** What the containers module tells the image store about an image it uses (for `rmi`). */
export interface ImageUser {
  /** Container id. */
  container: string;
  running: boolean;
}

/** Answers whether a container uses `imageId`; `rmi` refuses (409) unless forced, and always when running. */
export type ImageInUseCheck = (imageId: Digest) => Promise<ImageUser | undefined>;

/**
 * The local image store: configs in the content store, layers as committed snapshots, names as
 * small atomically-replaced records. Lookups accept a name (`busybox`, `busybox:1`,
 * `docker.io/library/busybox:latest`), a full id (`sha256:…`) or a unique id prefix.
 */
export interface ImageStore {
  get(ref: string): Promise<ImageRecord | undefined>;
  /** `system verify`'s look at names, records, their blobs and layer snapshots (the local store only). */
  check?(opts: { repair: boolean }): Promise<StoreProblem[]>;
  /** Like `get`, but throws TB_IMAGE_NOT_FOUND (`No such image: <ref>`). */
  resolve(ref: string): Promise<ImageRecord>;
  list(): Promise<ImageRecord[]>;
  /** How many images, without reading any config (works on a damaged store). */
  count?(): Promise<number>;
  create(image: NewImage): Promise<ImageRecord>;
  tag(ref: string, name: string): Promise<void>;
  /** Remove one name; returns the normalized name removed. */
  untag(name: string): Promise<string>;
  /**
   * `rmi`: untag `ref` (if a name) and delete the image when no name is left (or `force`),
   * along with content and snapshots nothing else uses. Returns Docker's Untagged/Deleted list.
   */
  remove(ref: string, opts?: { force?: boolean }): Promise<Array<{ Untagged?: string; Deleted?: string }>>;
  /** Installed by the container manager so `remove` knows which images containers use. */
  setInUseCheck(check: ImageInUseCheck): void;
  /** Which container (if any) uses the image, through the installed check. */
  inUse?(imageId: Digest): Promise<ImageUser | undefined>;
}

/** Where an image's layers live, as Docker's overlay2 GraphDriver data shows them (top layer first). */
export interface GraphDriverDirs {
  upper?: string;
  lower?: string[];
}
