import { describe, test, expect, beforeEach, afterEach } from 'vitest';
import { mkdir, readFile, writeFile, readdir, lstat, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isTbuildError } from '../../../src/errors.js';
import { withMounts } from '../../../src/util/mount.js';
import { scanXattrs } from '../../../src/cache/fsops.js';
import type { Snapshotter } from '../../../src/cache/types.js';

export interface SnapshotterHarness {
  snapshotter: Snapshotter;
  /** A scratch directory for mount targets. */
  scratch: string;
  /** Whether the suite may mount what the snapshotter describes (needs root and overlayfs). */
  mountable: boolean;
  /** Open the same state again, as after a restart; `crashed`: the process that made it died. */
  reopen(opts?: { crashed?: boolean }): Promise<Snapshotter>;
  cleanup(): Promise<void>;
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return isTbuildError(err) ? err.code : `non-tbuild: ${(err as Error).message}`;
  }
  return undefined;
}

/** The behaviour every Snapshotter must show; mount tests run when the harness is mountable. */
export function snapshotterSuite(name: string, factory: () => Promise<SnapshotterHarness>): void {
  describe(`Snapshotter conformance: ${name}`, () => {
    let h: SnapshotterHarness;
    let n = 0;
    const target = async () => {
      const t = join(h.scratch, `m${n++}`);
      await mkdir(t, { recursive: true });
      return t;
    };
    beforeEach(async () => {
      h = await factory();
    });
    afterEach(async () => {
      await h.cleanup();
    });

    test('lifecycle: prepare, commit, stat, chain, walk, usage, remove', async () => {
      const s = h.snapshotter;
      await s.prepare('k1', undefined, { a: '1' });
      await writeFile(join(await s.layerDir('k1'), 'hello'), 'x'.repeat(10_000));
      expect((await s.stat('k1')).kind).toBe('active');
      await s.commit('base', 'k1', { b: '2' });
      expect(await s.exists('k1')).toBe(false);
      const st = await s.stat('base');
      expect(st).toMatchObject({ name: 'base', kind: 'committed', labels: { a: '1', b: '2' } });
      expect(st.parent).toBeUndefined();
      await s.prepare('k2', 'base');
      await s.commit('child', 'k2');
      await s.view('v', 'child');
      expect((await s.stat('v')).kind).toBe('view');
      expect(await s.chain('child')).toEqual(['child', 'base']);
      expect(await s.chain('v')).toEqual(['v', 'child', 'base']);
      expect((await s.stat('child')).parent).toBe('base');
      const u = await s.usage('base');
      expect(u.size).toBeGreaterThanOrEqual(10_000);
      expect(u.inodes).toBe(2);
      const names: string[] = [];
      for await (const i of s.walk()) names.push(i.name);
      expect(names.sort()).toEqual(['base', 'child', 'v']);
      expect(await codeOf(s.remove('base'))).toBe('TB_SNAPSHOT_STATE');
      await s.remove('v');
      await s.remove('child');
      await s.remove('base');
      expect(await s.exists('base')).toBe(false);
    });

    test('state errors have codes', async () => {
      const s = h.snapshotter;
      await s.prepare('a');
      expect(await codeOf(s.prepare('a'))).toBe('TB_SNAPSHOT_EXISTS');
      expect(await codeOf(s.prepare('b', 'missing'))).toBe('TB_SNAPSHOT_NOT_FOUND');
      expect(await codeOf(s.prepare('b', 'a'))).toBe('TB_SNAPSHOT_STATE');
      await s.prepare('c');
      await s.commit('done', 'a');
      expect(await codeOf(s.commit('done', 'c'))).toBe('TB_SNAPSHOT_EXISTS');
      expect(await codeOf(s.commit('x', 'done'))).toBe('TB_SNAPSHOT_STATE');
      expect(await codeOf(s.mounts('done'))).toBe('TB_SNAPSHOT_STATE');
      expect(await codeOf(s.stat('nope'))).toBe('TB_SNAPSHOT_NOT_FOUND');
      expect(await codeOf(s.remove('nope'))).toBe('TB_SNAPSHOT_NOT_FOUND');
      await s.view('v', 'done');
      expect(await codeOf(s.commit('y', 'v'))).toBe('TB_SNAPSHOT_STATE');
      // arbitrary strings as keys
      await s.prepare('sha256:abc/../../weird key with spaces', 'done');
      expect(await s.exists('sha256:abc/../../weird key with spaces')).toBe(true);
    });

    test('restart keeps committed and kept snapshots, sweeps abandoned active ones', async () => {
      const s = h.snapshotter;
      await s.prepare('k');
      await writeFile(join(await s.layerDir('k'), 'f'), 'data');
      await s.commit('c', 'k');
      await s.prepare('crashed', 'c');
      await s.view('crashed-view', 'c');
      await s.prepare('kept', 'c', { 'tbuild.keep': 'container abc' });
      // the creator still runs (another open in this process): nothing of it is swept
      const alive = await h.reopen();
      expect(await alive.exists('crashed')).toBe(true);
      const s2 = await h.reopen({ crashed: true });
      expect(await s2.exists('c')).toBe(true);
      expect(await s2.exists('crashed')).toBe(false);
      expect(await s2.exists('crashed-view')).toBe(false);
      expect(await s2.exists('kept')).toBe(true);
      expect(await readFile(join(await s2.layerDir('c'), 'f'), 'utf8')).toBe('data');
      await s2.prepare('again', 'c');
      expect(await s2.chain('again')).toEqual(['again', 'c']);
    });

    test('mounts: write, commit, child sees parent, whiteouts, opaque dirs, read-only views', async () => {
      if (!h.mountable) return expect(h.mountable).toBe(false);
      const s = h.snapshotter;
      const m1 = await s.prepare('k1');
      await withMounts(m1, await target(), async (dir) => {
        await writeFile(join(dir, 'a'), 'A');
        await writeFile(join(dir, 'gone'), 'G');
        await mkdir(join(dir, 'd/sub'), { recursive: true });
        await writeFile(join(dir, 'd/sub/old'), 'O');
      });
      await s.commit('l1', 'k1');
      const m2 = await s.prepare('k2', 'l1');
      await withMounts(m2, await target(), async (dir) => {
        expect(await readFile(join(dir, 'a'), 'utf8')).toBe('A');
        await rm(join(dir, 'gone'));
        await rm(join(dir, 'd'), { recursive: true });
        await mkdir(join(dir, 'd'));
        await writeFile(join(dir, 'd/new'), 'N');
        await writeFile(join(dir, 'b'), 'B');
      });
      await s.commit('l2', 'k2');
      const upper = await s.layerDir('l2');
      const wh = await lstat(join(upper, 'gone'));
      expect(wh.isCharacterDevice() && wh.rdev === 0).toBe(true);
      const xs = await scanXattrs(upper);
      expect(xs.get('d')?.get('trusted.overlay.opaque')?.toString()).toBe('y');
      expect((await readdir(upper)).sort()).toEqual(['b', 'd', 'gone']);

      const mv = await s.view('v', 'l2');
      await withMounts(mv, await target(), async (dir) => {
        expect((await readdir(dir)).sort()).toEqual(['a', 'b', 'd']);
        expect(await readdir(join(dir, 'd'))).toEqual(['new']);
        await expect(writeFile(join(dir, 'x'), 'x')).rejects.toMatchObject({ code: 'EROFS' });
      });
      const mv1 = await s.view('v1', 'l1');
      await withMounts(mv1, await target(), async (dir) => {
        expect((await readdir(dir)).sort()).toEqual(['a', 'd', 'gone']);
        await expect(writeFile(join(dir, 'x'), 'x')).rejects.toMatchObject({ code: 'EROFS' });
      });
    });

    test('a 150-layer chain mounts within the option limit and shows every layer', async () => {
      if (!h.mountable) return expect(h.mountable).toBe(false);
      const s = h.snapshotter;
      let parent: string | undefined;
      for (let i = 1; i <= 150; i++) {
        const key = `active-${i}`;
        await s.prepare(key, parent);
        const dir = await s.layerDir(key);
        await writeFile(join(dir, `f${i}`), String(i));
        await writeFile(join(dir, 'top'), String(i));
        if (i === 100) {
          // delete f5 from layer 100 on, as overlay would record it
          const m = await s.mounts(key);
          await withMounts(m, await target(), async (d) => rm(join(d, 'f5')));
        }
        parent = `layer-${i}-${'x'.repeat(40)}`;
        await s.commit(parent, key);
      }
      expect((await s.chain(parent!)).length).toBe(150);
      const m = await s.prepare('top', parent);
      for (const mt of m) expect(mt.options.join(',').length).toBeLessThanOrEqual(4095);
      await withMounts(m, await target(), async (dir) => {
        const names = new Set(await readdir(dir));
        for (let i = 1; i <= 150; i++) expect(names.has(`f${i}`)).toBe(i !== 5);
        expect(await readFile(join(dir, 'top'), 'utf8')).toBe('150');
        expect(await readFile(join(dir, 'f77'), 'utf8')).toBe('77');
        await writeFile(join(dir, 'mine'), 'm');
      });
      expect(await readdir(await s.layerDir('top'))).toEqual(['mine']);
      const v = await s.view('v', parent);
      await withMounts(v, await target(), async (dir) => {
        expect((await readdir(dir)).length).toBe(150);
      });
    });
  });
}

