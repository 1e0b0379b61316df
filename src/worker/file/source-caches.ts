import type { SourceCacheEntry } from '../types.js';
import { gitCacheEntries } from './git-source.js';
import { httpCacheEntries } from './http-cache.js';

/** Everything remote sources keep in the state root between builds: git repositories and trees, downloads. */
export async function sourceCacheEntries(root: string): Promise<SourceCacheEntry[]> {
  return [...(await gitCacheEntries(root)), ...(await httpCacheEntries(root))];
}

/**
 * `builder prune`'s part for them, as BuildKit prunes its source records with the rest of the
 * unused cache: every entry last used longer ago than `olderThanMs` (all without it) that no
 * build is using. Under `--keep-storage` they stay: that budget is the snapshots'.
 */
export async function pruneSourceCaches(root: string, opts: { olderThanMs?: number; keepStorage?: number } = {}): Promise<{ removed: string[]; bytes: number }> {
  const out = { removed: [] as string[], bytes: 0 };
  if (opts.keepStorage !== undefined) return out;
  const cutoff = opts.olderThanMs === undefined ? Infinity : Date.now() - opts.olderThanMs;
  for (const e of await sourceCacheEntries(root)) {
    if (e.lastUsedAt.getTime() > cutoff) continue;
    if (!(await e.remove())) continue;
    out.removed.push(e.id);
    out.bytes += e.size;
  }
  return out;
}
