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
}

export function resultToRecord(key: Digest, r: VertexResult): CacheRecord {
  return {
    key,
    snapshot: r.snapshot,
    meta: { layers: r.layers.map((l) => ({ diffId: l.diffId, size: l.size, snapshot: l.snapshot })), created: r.created },
    created: new Date().toISOString(),
  };
}

export function recordToResult(rec: CacheRecord): VertexResult | undefined {
  const layers = rec.meta?.layers;
  if (!Array.isArray(layers)) return undefined;
  const created = typeof rec.meta?.created === 'string' ? rec.meta.created : undefined;
  return { snapshot: rec.snapshot, layers: layers as ImageLayer[], ...(created ? { created } : {}) };
}
