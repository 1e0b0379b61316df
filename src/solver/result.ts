import type { ImageLayer } from '../images/types.js';
import type { CacheRecord } from '../cache/types.js';
import type { Digest } from '../util/digest.js';

/**
 * What a vertex produces: a committed snapshot (its whole chain is the filesystem) and the image
 * layers that chain is made of, bottom-up. A step that changed nothing keeps its parent's snapshot
 * and layers (BuildKit drops empty layers too).
 */
export interface VertexResult {
  snapshot?: string;
  layers: ImageLayer[];
  /**
   * When the top layer was made (ISO 8601). Kept in the cache record, so a fully cached rebuild
   * gives the same history times and hence the same image id, as BuildKit does.
   */
  created?: string;
  /**
   * The result's identity as dependents' cache keys see it (set by the scheduler). It travels with
   * the result through cache records and exported caches, so a machine that imports a result
   * computes the same keys for the steps built on it as the machine that made it.
   */
  link?: Digest;
  /**
   * Set while the result is known only from an imported cache: `layers` is empty until
   * `materialize` fetches and applies them. The scheduler materializes a result before any step
   * runs on it, and the build's final result; a chain of cache hits never downloads a byte.
   */
  pending?: PendingResult;
  /**
   * What the op that made it knows of its process (a RUN's env, workdir, user, command), for
   * `tbuild debug --step`. Only for a step that ran in this build; never kept in cache records.
   */
  debug?: Record<string, unknown>;
}

export interface PendingResult {
  /** Layers of the result, bottom-up, as the imported cache describes them. */
  diffIds: Digest[];
  /** How fetching it is shown (default `importing cached layers of STEP`). */
  label?: string;
  /**
   * Fetch and apply the layers. Absent when the cache knows only the result's identity (a
   * `mode=min` export records the steps before the final stage that way): then the step runs
   * again when something needs its files, keeping the identity its dependents were keyed by.
   */
  materialize?(signal: AbortSignal, onStatus?: (s: TransferStatus) => void): Promise<VertexResult>;
}

/** Progress of one blob a materialize fetches (shown under the step, as BuildKit shows lazy blobs). */
export interface TransferStatus {
  id: string;
  current: number;
  total?: number;
  completed?: boolean;
}

/** Results beyond the local cache index (imported caches), asked when the index has no record. */
export interface ResultSource {
  lookup(key: Digest): Promise<VertexResult | undefined>;
}

/** The result's layers (diffIDs, bottom-up), whether it is materialized or still pending. */
export function resultDiffIds(r: VertexResult): Digest[] {
  return r.pending ? r.pending.diffIds : r.layers.map((l) => l.diffId);
}

export function resultToRecord(key: Digest, r: VertexResult): CacheRecord {
  return {
    key,
    snapshot: r.snapshot,
    meta: {
      layers: r.layers.map((l) => ({ diffId: l.diffId, size: l.size, snapshot: l.snapshot })),
      created: r.created,
      ...(r.link ? { link: r.link } : {}),
    },
    created: new Date().toISOString(),
  };
}

/**
 * A record of a result this machine knows only by identity (imported, never fetched): a later
 * build computes the same keys from it, and runs the step again if it needs the files.
 */
export function identityRecord(key: Digest, r: VertexResult): CacheRecord {
  return {
    key,
    meta: { identity: true, diffIds: resultDiffIds(r), link: r.link, ...(r.created ? { created: r.created } : {}) },
    created: new Date().toISOString(),
  };
}

export function recordToResult(rec: CacheRecord): VertexResult | undefined {
  if (rec.meta?.identity === true) {
    const { link, diffIds, created } = rec.meta as { link?: unknown; diffIds?: unknown; created?: unknown };
    if (typeof link !== 'string' || !Array.isArray(diffIds)) return undefined;
    return { layers: [], link: link as Digest, pending: { diffIds: diffIds as Digest[] }, ...(typeof created === 'string' ? { created } : {}) };
  }
  const layers = rec.meta?.layers;
  if (!Array.isArray(layers)) return undefined;
  const created = typeof rec.meta?.created === 'string' ? rec.meta.created : undefined;
  const link = typeof rec.meta?.link === 'string' ? (rec.meta.link as Digest) : undefined;
  return { snapshot: rec.snapshot, layers: layers as ImageLayer[], ...(created ? { created } : {}), ...(link ? { link } : {}) };
}
