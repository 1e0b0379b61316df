import { describe, expect, test } from 'vitest';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { openSnapshotter } from '../../src/cache/snapshotter.js';
import { isTbuildError } from '../../src/errors.js';
import { ownedName } from '../../src/util/owned-temp.js';
import { tempDir } from '../support/tmp.js';

/**
 * Many processes share one state root (a daemon and embedded CLIs): each opens its own
 * snapshotter. Two snapshotters on one directory stand for two processes here.
 */
describe('one snapshot directory, several snapshotters', () => {
  test('each sees what the other made, committed and removed', async () => {
    const t = await tempDir('tbs-shared-');
    try {
      const a = await openSnapshotter(t.path);
      const b = await openSnapshotter(t.path);
      await a.prepare('a1');
      await a.commit('A', 'a1');
      expect(await b.exists('A')).toBe(true);
      await b.prepare('b1', 'A');
      await b.commit('B', 'b1');
      expect(await a.chain('B')).toEqual(['B', 'A']);
      // a child the other one made keeps its parent
      await b.prepare('b2', 'B');
      const err = await a.remove('B').catch((e: unknown) => e);
      expect(isTbuildError(err, 'TB_SNAPSHOT_STATE')).toBe(true);
      await b.remove('b2');
      await a.remove('B');
      expect(await b.exists('B')).toBe(false);
      expect((await b.check({ repair: false })).map((p) => p.kind)).toEqual([]);
    } finally {
      await t.cleanup();
    }
  });

  test('snapshots made at the same time by both get distinct ids, and a third opener keeps them all', async () => {
    const t = await tempDir('tbs-shared-');
    try {
      const a = await openSnapshotter(t.path);
      const b = await openSnapshotter(t.path);
      const names = Array.from({ length: 12 }, (_, i) => `s${i}`);
      await Promise.all(names.map(async (n, i) => {
        const s = i % 2 ? a : b;
        await s.prepare(`k-${n}`);
        await s.commit(n, `k-${n}`);
      }));
      const c = await openSnapshotter(t.path);
      for (const n of names) expect(await c.exists(n)).toBe(true);
      const ids = (await readdir(join(t.path, 'snapshots'))).filter((x) => /^\d+$/.test(x));
      expect(ids).toHaveLength(12);
      expect(await c.check({ repair: false })).toEqual([]);
    } finally {
      await t.cleanup();
    }
  });

  test("an opener's sweep leaves a live process's work alone; check --repair takes only orphans", async () => {
    const t = await tempDir('tbs-shared-');
    try {
      const a = await openSnapshotter(t.path);
      await a.prepare('live');
      // a live process's directory being made, and an orphan left without a record
      await mkdir(join(t.path, 'snapshots', `.${ownedName('new')}`, 'fs'), { recursive: true });
      await mkdir(join(t.path, 'snapshots', '99', 'fs'), { recursive: true });
      await mkdir(join(t.path, 'snapshots', '.new-4194305.1-abcdef', 'fs'), { recursive: true });
      const b = await openSnapshotter(t.path);
      expect(await b.exists('live')).toBe(true);
      const left = (await readdir(join(t.path, 'snapshots'))).sort();
      expect(left.filter((n) => n.startsWith('.new-'))).toHaveLength(1);
      expect(left).not.toContain('99');
      await mkdir(join(t.path, 'snapshots', '98', 'fs'), { recursive: true });
      const found = await b.check({ repair: true });
      expect(found.map((p) => [p.kind, p.repaired])).toEqual([['snapshot-orphan', true]]);
      expect(await readdir(join(t.path, 'snapshots'))).not.toContain('98');
      await a.remove('live');
    } finally {
      await t.cleanup();
    }
  });
});
