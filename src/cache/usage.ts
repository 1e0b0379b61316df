import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Usage } from './types.js';

/**
 * Disk used under `dir` as `du` counts it: allocated blocks, each inode once (hard links are not
 * double-counted), symlinks not followed. A missing dir uses nothing.
 */
export async function diskUsage(dir: string): Promise<Usage> {
  const seen = new Set<number>();
  let size = 0;
  let inodes = 0;
  const visit = async (p: string): Promise<void> => {
    let st;
    try {
      st = await lstat(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    if (st.nlink > 1 && !st.isDirectory()) {
      if (seen.has(st.ino)) return;
      seen.add(st.ino);
    }
    inodes++;
    size += st.blocks * 512;
    if (st.isDirectory()) {
      const names = await readdir(p).catch(() => [] as string[]);
      for (const n of names) await visit(join(p, n));
    }
  };
  await visit(dir);
  return { size, inodes };
}

export interface StorageUsage {
  content: Usage & { blobs: number };
  snapshots: Usage & { count: number };
  cache: Usage & { records: number };
  total: number;
}

async function count(dir: string, re: RegExp): Promise<number> {
  return (await readdir(dir).catch(() => [] as string[])).filter((n) => re.test(n)).length;
}

/** Sizes for `tbuild df`: the content store, the snapshot layers and the cache-key index of one state root. */
export async function storageUsage(root: string): Promise<StorageUsage> {
  const [content, snapshots, cache] = await Promise.all([
    diskUsage(join(root, 'content')),
    diskUsage(join(root, 'snapshots')),
    diskUsage(join(root, 'cache')),
  ]);
  const [blobs, snaps, records] = await Promise.all([
    count(join(root, 'content', 'blobs', 'sha256'), /^[a-f0-9]{64}$/),
    count(join(root, 'snapshots', 'metadata'), /^\d+\.json$/),
    count(join(root, 'cache', 'keys'), /^[a-f0-9]{64}\.json$/),
  ]);
  return {
    content: { ...content, blobs },
    snapshots: { ...snapshots, count: snaps },
    cache: { ...cache, records },
    total: content.size + snapshots.size + cache.size,
  };
}
