import { afterEach, describe, expect, test } from 'vitest';
import { chmod, chown, readdir, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { checksumSources } from '../../src/session/checksum.js';
import { openContext } from '../../src/session/open.js';
import { pruneStatCaches } from '../../src/session/stat-cache.js';
import type { BuildContext } from '../../src/session/types.js';
import { isTbuildError } from '../../src/errors.js';
import { makeContext, type TreeSpec } from '../support/context.js';
import { tempDir } from '../support/tmp.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const BASE: TreeSpec = {
  Dockerfile: 'FROM scratch\n',
  'a.txt': 'a\n',
  'b.txt': 'b\n',
  'src/main.js': 'main\n',
  'src/lib/util.js': 'util\n',
  'src/link': { symlink: 'main.js' },
  'other/unrelated.txt': 'u\n',
  '.dockerignore': 'notes.txt\n',
  'notes.txt': '1\n',
};

async function ctxFor(spec: TreeSpec = BASE): Promise<{ dir: string; root: string; open: () => Promise<BuildContext> }> {
  const c = await makeContext(spec);
  const r = await tempDir('tb-root-');
  cleanups.push(c.cleanup, r.cleanup);
  const opened: BuildContext[] = [];
  cleanups.push(async () => {
    for (const o of opened) await o.dispose();
  });
  return {
    dir: c.dir,
    root: r.path,
    open: async () => {
      const bc = await openContext(c.dir, { root: r.path });
      opened.push(bc);
      return bc;
    },
  };
}

async function sum(open: () => Promise<BuildContext>, sources: string[], excludes?: string[]): Promise<string> {
  const bc = await open();
  const d = await checksumSources(bc, sources, { excludes });
  await bc.dispose();
  return d;
}

describe('checksumSources', () => {
  test('stable, and a changed unrelated or ignored file keeps it', async () => {
    const { dir, open } = await ctxFor();
    const src1 = await sum(open, ['src']);
    const all1 = await sum(open, ['.']);
    expect(src1).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await sum(open, ['src'])).toBe(src1);
    await writeFile(join(dir, 'other/unrelated.txt'), 'changed\n');
    expect(await sum(open, ['src'])).toBe(src1);
    // cache-ignored-change: a .dockerignore'd file does not bust COPY .
    await writeFile(join(dir, 'notes.txt'), '2\n');
    expect(await sum(open, ['.'])).not.toBe(await sum(open, ['src']));
    const all2 = await sum(open, ['.']);
    expect(all2).not.toBe(all1); // other/unrelated.txt changed, and COPY . reads it
    await writeFile(join(dir, 'notes.txt'), '3\n');
    expect(await sum(open, ['.'])).toBe(all2);
  });

  test('mtime and ownership changes keep it; content, mode, link target and names change it', async () => {
    const { dir, open } = await ctxFor();
    const base = await sum(open, ['src']);
    await utimes(join(dir, 'src/main.js'), 1000, 1000);
    await chown(join(dir, 'src/main.js'), 1234, 5678);
    expect(await sum(open, ['src'])).toBe(base);

    await chmod(join(dir, 'src/main.js'), 0o755);
    const modeChanged = await sum(open, ['src']);
    expect(modeChanged).not.toBe(base);
    await chmod(join(dir, 'src/main.js'), 0o644);
    expect(await sum(open, ['src'])).toBe(base);

    await writeFile(join(dir, 'src/main.js'), 'main2\n');
    const contentChanged = await sum(open, ['src']);
    expect(contentChanged).not.toBe(base);
    await writeFile(join(dir, 'src/main.js'), 'main\n');
    expect(await sum(open, ['src'])).toBe(base);

    await rm(join(dir, 'src/link'));
    await symlink('lib/util.js', join(dir, 'src/link'));
    expect(await sum(open, ['src'])).not.toBe(base);
  });

  test('a rename matched by a wildcard changes it (cache-wildcard-rename)', async () => {
    const { dir, open } = await ctxFor({ 'a.txt': 'same\n', Dockerfile: 'x' });
    const before = await sum(open, ['*.txt']);
    await rename(join(dir, 'a.txt'), join(dir, 'b.txt'));
    expect(await sum(open, ['*.txt'])).not.toBe(before);
  });

  test('adding a file to a copied directory changes it; excluded files do not count', async () => {
    const { dir, open } = await ctxFor();
    const base = await sum(open, ['src'], ['*.log']);
    await writeFile(join(dir, 'src/debug.log'), 'x');
    expect(await sum(open, ['src'], ['*.log'])).toBe(base);
    await writeFile(join(dir, 'src/new.js'), 'x');
    expect(await sum(open, ['src'], ['*.log'])).not.toBe(base);
  });

  test('a top-level symlink source is hashed as its target', async () => {
    const { dir, open } = await ctxFor({ 'real.txt': 'real\n', toplink: { symlink: 'real.txt' }, Dockerfile: 'x' });
    const before = await sum(open, ['toplink']);
    await writeFile(join(dir, 'real.txt'), 'changed\n');
    expect(await sum(open, ['toplink'])).not.toBe(before);
  });

  test('missing sources fail like the copy; empty wildcards contribute nothing', async () => {
    const { open } = await ctxFor();
    const bc = await open();
    const err = await checksumSources(bc, ['missing-file.txt']).catch((e) => e);
    expect(isTbuildError(err, 'TB_COPY_SOURCE_NOT_FOUND')).toBe(true);
    expect(err.message).toContain('missing-file.txt');
    const ignored = await checksumSources(bc, ['notes.txt']).catch((e) => e);
    expect(isTbuildError(ignored, 'TB_COPY_SOURCE_NOT_FOUND')).toBe(true);
    expect(await checksumSources(bc, ['nomatch*', 'a.txt'])).not.toBe(await checksumSources(bc, ['a.txt', 'nomatch*']));
  });

  test('the stat cache avoids re-reading unchanged files across builds', async () => {
    const { dir, open } = await ctxFor();
    await sleep(150); // let the files age past the racy-timestamp window
    const first = await open();
    const d1 = await checksumSources(first, ['.']);
    expect(first.statCache.stats.hits).toBe(0);
    const hashed = first.statCache.stats.misses;
    expect(hashed).toBeGreaterThan(3);
    await first.dispose();

    const second = await open();
    expect(await checksumSources(second, ['.'])).toBe(d1);
    expect(second.statCache.stats).toEqual({ hits: hashed, misses: 0 });
    await second.dispose();

    await writeFile(join(dir, 'a.txt'), 'changed\n');
    const third = await open();
    expect(await checksumSources(third, ['.'])).not.toBe(d1);
    expect(third.statCache.stats).toEqual({ hits: hashed - 1, misses: 1 });
    await third.dispose();
  });
});

test('stat caches are pruned to the most recently used', async () => {
  const t = await tempDir('tb-stat-');
  cleanups.push(t.cleanup);
  for (let i = 0; i < 130; i++) {
    const f = join(t.path, `${String(i).padStart(3, '0')}.json`);
    await writeFile(f, '{}');
    await utimes(f, 1_000_000 + i, 1_000_000 + i);
  }
  expect(await pruneStatCaches(t.path)).toBe(30);
  const left = (await readdir(t.path)).sort();
  expect(left).toHaveLength(100);
  expect(left[0]).toBe('030.json');
  expect(await pruneStatCaches(t.path)).toBe(0);
});
