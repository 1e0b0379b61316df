import type { CacheExportItem } from '../remotecache/export.js';
import type { CacheExportSpec } from '../remotecache/types.js';
import type { BuildOptions } from './types.js';

/**
 * A multi-platform build exports one cache for all its platforms, as BuildKit does: each
 * platform's build hands its records for a `--cache-to` here; the one that exports gets them all
 * (undefined for the others, which export nothing). Keyed by the per-platform build's options, so
 * the library's `BuildOptions` carries nothing of it.
 */
export type CacheMerge = (spec: CacheExportSpec, items: CacheExportItem[]) => Promise<CacheExportItem[] | undefined>;

export const cacheMerges = new WeakMap<BuildOptions, CacheMerge>();
