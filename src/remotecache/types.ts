import type { Digest } from '../util/digest.js';
import type { Descriptor, Fetcher, Pusher } from '../registry/types.js';

/**
 * Build cache shared beyond one machine, with BuildKit's flags: `--cache-to` exports the cache
 * records of a build (cache key → result layers) with the layers' compressed blobs; `--cache-from`
 * imports them lazily (a record's layers are fetched only when a step runs on it or it is the
 * build's result).
 */

export type CacheMode = 'min' | 'max';

/** `--cache-to`, parsed. */
export type CacheExportSpec =
  | {
      type: 'registry';
      ref: string;
      mode: CacheMode;
      /** Top level is the cache manifest itself (true), or an index holding it (false). */
      imageManifest: boolean;
      ociMediaTypes: boolean;
      ignoreError: boolean;
      /** tbuild's extension: the contents of `RUN --mount=type=cache` directories go along. */
      cacheMounts: boolean;
    }
  | { type: 'local'; dest: string; tag: string; mode: CacheMode; imageManifest: boolean; ociMediaTypes: boolean; ignoreError: boolean; cacheMounts: boolean; store?: string }
  | { type: 'inline' };

/** `--cache-from`, parsed. */
export type CacheImportSpec =
  | { type: 'registry'; ref: string }
  | { type: 'local'; src: string; tag: string; digest?: Digest; store?: string };

/*
 * A local cache's `store`: the id of a content store the build's client serves (BuildKit's
 * `local:<dir>`, through buildx's session). `dest`/`src` are then the client's directory, named
 * only; blobs go through the store, and the client itself names the exported manifest.
 */

/** A cache directory the client serves, read and written by digest. */
export type ClientCacheStore = Fetcher & Pusher;

/** Media type of the cache config blob (the manifest's `config`). */
export const CACHE_CONFIG_TYPE = 'application/vnd.tbuild.cache.config.v1+json';
/** Key of the inline cache in an image config (`--cache-to type=inline`). */
export const INLINE_CACHE_KEY = 'tbuild.cache.v1';
/** Annotation naming a cache mount's archive among the manifest's layers. */
export const CACHE_MOUNT_ANNOTATION = 'dev.tbuild.cache.mount';

/**
 * The cache config (README, "Remote build cache"): the blobs, and records pointing into them.
 * A record's `layers` are indexes into `layers`, bottom-up: the result's whole chain.
 */
export interface CacheConfig {
  layers: CacheLayer[];
  records: CacheRecordEntry[];
  /** Cache mount contents (`cache-mounts=true`): mount id → index into the manifest's layers. */
  mounts?: Array<{ id: string; blob: Digest; size: number; mediaType: string }>;
}

export interface CacheLayer {
  /** The compressed blob as the manifest lists it. */
  blob: Digest;
  diffId: Digest;
  /** Uncompressed size. */
  size: number;
}

export interface CacheRecordEntry {
  key: Digest;
  /** The result's identity as dependents' keys were computed from it. */
  link: Digest;
  /** Absent: the record gives only the result's identity (a step before the final stage, `mode=min`). */
  layers?: number[];
  created?: string;
}

/** Inline form: records refer to the image's own layers by position. */
export interface InlineCache {
  /** `layers` absent: identity only, as in `CacheRecordEntry`. */
  records: Array<{ key: Digest; link: Digest; layers?: number; created?: string }>;
}

/** One layer of an imported record: where its blob is and what it unpacks to. */
export interface RemoteLayer {
  blob: Descriptor;
  diffId: Digest;
  size: number;
}
