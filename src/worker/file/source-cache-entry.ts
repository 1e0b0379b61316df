import { stat, utimes } from 'node:fs/promises';
import { diskUsage } from '../../cache/usage.js';
import type { SourceCacheEntry } from '../types.js';

/** The entry for the directory at `path` (its size, birth and last use from the file system); undefined when it is gone. */
export async function sourceCacheEntry(path: string, e: Pick<SourceCacheEntry, 'id' | 'type' | 'description' | 'remove'>): Promise<SourceCacheEntry | undefined> {
  const st = await stat(path).catch(() => undefined);
  if (!st?.isDirectory()) return undefined;
  return { ...e, size: (await diskUsage(path)).size, createdAt: st.birthtime.getTime() ? st.birthtime : st.ctime, lastUsedAt: st.mtime };
}

/** Record a use of a source cache entry (its mtime), for `builder prune --filter until=…`. */
export async function markUsed(path: string): Promise<void> {
  const now = new Date();
  await utimes(path, now, now).catch(() => {});
}
