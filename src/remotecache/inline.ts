import { resultDiffIds } from '../solver/result.js';
import type { Digest } from '../util/digest.js';
import type { CacheExportItem } from './export.js';
import { INLINE_CACHE_KEY, type InlineCache } from './types.js';

export { INLINE_CACHE_KEY };

/**
 * `--cache-to type=inline`: the records whose layers are the image's own bottom layers, by count.
 * The image then carries its cache: `--cache-from IMAGE` finds the records in its config and the
 * blobs in its manifest.
 */
export function inlineCache(items: readonly CacheExportItem[], imageDiffIds: readonly Digest[]): InlineCache {
  const records: InlineCache['records'] = [];
  for (const { key, result, identityOnly } of items) {
    if (!result.link) continue;
    if (identityOnly || (result.pending && !result.pending.materialize)) {
      records.push({ key, link: result.link, ...(result.created ? { created: result.created } : {}) });
      continue;
    }
    const ids = resultDiffIds(result);
    if (ids.length > imageDiffIds.length || ids.some((d, i) => imageDiffIds[i] !== d)) continue;
    records.push({ key, link: result.link, layers: ids.length, ...(result.created ? { created: result.created } : {}) });
  }
  return { records };
}
