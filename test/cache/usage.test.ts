import { test, expect } from 'vitest';
import { writeFile, mkdir, link } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../support/tmp.js';
import { diskUsage, storageUsage } from '../../src/cache/usage.js';
import { openContentStore } from '../../src/cache/content-store.js';
import { openSnapshotter } from '../../src/cache/snapshotter.js';
import { openCacheIndex } from '../../src/cache/cache-index.js';
import { sha256 } from '../../src/util/digest.js';

test('disk usage counts blocks, each inode once, and sums the three stores', async () => {
  const t = await tempDir('tbu-');
  try {
    const d = join(t.path, 'd');
    await mkdir(d);
    await writeFile(join(d, 'a'), Buffer.alloc(100_000, 1));
    await link(join(d, 'a'), join(d, 'b'));
    const u = await diskUsage(d);
    expect(u.inodes).toBe(2);
    expect(u.size).toBeGreaterThanOrEqual(100_000);
    expect(u.size).toBeLessThan(200_000);
    expect(await diskUsage(join(t.path, 'missing'))).toEqual({ size: 0, inodes: 0 });

    const cs = await openContentStore(t.path);
    await cs.put(Buffer.alloc(50_000, 2));
    const sn = await openSnapshotter(t.path);
    await sn.prepare('k');
    await writeFile(join(await sn.layerDir('k'), 'f'), Buffer.alloc(70_000, 3));
    await sn.commit('c', 'k');
    const ci = await openCacheIndex(t.path);
    await ci.set({ key: sha256('x'), snapshot: 'c', created: new Date().toISOString() });
    const s = await storageUsage(t.path);
    expect(s.content.blobs).toBe(1);
    expect(s.content.size).toBeGreaterThanOrEqual(50_000);
    expect(s.snapshots.count).toBe(1);
    expect(s.snapshots.size).toBeGreaterThanOrEqual(70_000);
    expect(s.cache.records).toBe(1);
    expect(s.total).toBe(s.content.size + s.snapshots.size + s.cache.size);
  } finally {
    await t.cleanup();
  }
});
