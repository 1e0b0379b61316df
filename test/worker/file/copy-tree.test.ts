import { afterEach, describe, expect, test } from 'vitest';
import { chmod, chown, lstat, mkdir, readFile, readlink, utimes } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { copyFiles } from '../../../src/worker/file/copy.js';
import { checksumSources } from '../../../src/session/checksum.js';
import { cachedContent, clearContentCache } from '../../../src/session/content-cache.js';
import { makeContext, writeTree, type TreeSpec } from '../../support/context.js';
import { isRoot, tempDir } from '../../support/tmp.js';
import { info } from './helpers.js';

/**
 * A directory source is copied entry by entry: small files with synchronous calls, bigger ones
 * and links through the thread pool. Both paths must give the same bytes and metadata.
 */

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(ctx: TreeSpec): Promise<{ src: string; dst: string }> {
  const c = await makeContext(ctx);
  const d = await tempDir('tb-dst-');
  cleanups.push(c.cleanup, d.cleanup);
  return { src: c.dir, dst: d.path };
}

const SMALL_LIMIT = 64 << 10;

describe('copying a directory tree', () => {
  test('small and large files keep their bytes, modes and times; links stay links', async () => {
    const sizes = { empty: 0, one: 1, under: SMALL_LIMIT - 1, at: SMALL_LIMIT, over: SMALL_LIMIT + 1, big: 3 << 20 };
    const data = Object.fromEntries(Object.entries(sizes).map(([k, n]) => [k, randomBytes(n)]));
    const spec: TreeSpec = {};
    for (const [k, buf] of Object.entries(data)) spec[`d/${k}.bin`] = { content: buf, mode: 0o640, mtime: 1_600_000_000 };
    spec['d/open'] = { content: 'o', mode: 0o777 };
    spec['d/suid'] = { content: 's', mode: 0o4755 };
    spec['d/private'] = { content: 'p', mode: 0o600 };
    spec['d/sub/link'] = { symlink: '../one.bin' };
    spec['d/sub/hard1'] = { content: 'h' };
    spec['d/sub/hard2'] = { hardlink: 'd/sub/hard1' };
    const { src, dst } = await setup(spec);
    await utimes(join(src, 'd/sub'), 1_500_000_000, 1_500_000_000);
    const stats = await copyFiles({ srcRoot: src, destRoot: dst, sources: ['d'], dest: '/out/' });

    for (const [k, buf] of Object.entries(data)) {
      const p = join(dst, 'out', `${k}.bin`);
      expect((await readFile(p)).equals(buf)).toBe(true);
      expect(await info(p)).toMatchObject({ mode: '0640', mtime: 1_600_000_000, type: 'file' });
    }
    expect((await info(join(dst, 'out/open'))).mode).toBe('0777'); // no umask applied
    expect((await info(join(dst, 'out/suid'))).mode).toBe('4755');
    expect((await info(join(dst, 'out/private'))).mode).toBe('0600');
    expect(await readlink(join(dst, 'out/sub/link'))).toBe('../one.bin');
    const [h1, h2] = await Promise.all([lstat(join(dst, 'out/sub/hard1')), lstat(join(dst, 'out/sub/hard2'))]);
    expect(h1.ino).toBe(h2.ino);
    expect((await info(join(dst, 'out/sub'))).mtime).toBe(1_500_000_000);
    expect(stats).toMatchObject({ files: 10, symlinks: 1, hardlinks: 1, dirs: 1 });
    expect(stats.bytes).toBe(Object.values(sizes).reduce((a, b) => a + b, 0) + 4);
  });

  test('sub-second mtimes survive the copy', async () => {
    const { src, dst } = await setup({ 'd/f': 'f' });
    await utimes(join(src, 'd/f'), 1_600_000_000.25, 1_600_000_000.75);
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['d'], dest: '/o/' });
    const st = await lstat(join(dst, 'o/f'), { bigint: true });
    expect(st.mtimeNs).toBe(1_600_000_000_750_000_000n);
  });

  test('--chmod and an existing file in the way', async () => {
    const { src, dst } = await setup({ 'd/a': 'new a', 'd/b': 'b' });
    await writeTree(dst, { 'o/a': { content: 'old a', mode: 0o600 } });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['d'], dest: '/o/', chmod: '751' });
    expect(await readFile(join(dst, 'o/a'), 'utf8')).toBe('new a');
    expect((await info(join(dst, 'o/a'))).mode).toBe('0751');
    expect((await info(join(dst, 'o/b'))).mode).toBe('0751');
  });

  test('an aborted copy stops and reports the abort', async () => {
    const spec: TreeSpec = {};
    for (let i = 0; i < 600; i++) spec[`d/f${i}`] = String(i);
    const { src, dst } = await setup(spec);
    const ac = new AbortController();
    const p = copyFiles({ srcRoot: src, destRoot: dst, sources: ['d'], dest: '/o/', signal: ac.signal });
    setImmediate(() => ac.abort(new Error('stop')));
    await expect(p).rejects.toThrow('stop');
  });
});

describe.runIf(isRoot)('ownership in the tree copy (root)', () => {
  test('owners are reset to 0:0 even inside an existing setgid directory of another group', async () => {
    const { src, dst } = await setup({ 'd/small': 's', 'd/big': { content: randomBytes(SMALL_LIMIT + 10) } });
    await chown(join(src, 'd/small'), 1000, 1000);
    await chown(join(src, 'd/big'), 1000, 1000);
    await mkdir(join(dst, 'shared'));
    await chown(join(dst, 'shared'), 0, 4242);
    await chmod(join(dst, 'shared'), 0o2775);
    const ignore = { matches: () => false, canSkipDir: () => false };
    await copyFiles({ srcRoot: src, ignore, destRoot: dst, sources: ['d'], dest: '/shared/' });
    expect(await info(join(dst, 'shared/small'))).toMatchObject({ uid: 0, gid: 0 });
    expect(await info(join(dst, 'shared/big'))).toMatchObject({ uid: 0, gid: 0 });
  });

  test('stage sources keep their owners, and setuid bits survive the chown', async () => {
    const { src, dst } = await setup({ 'd/s': { content: 's', mode: 0o4755 }, 'd/g': { content: 'g', mode: 0o2755 } });
    await chown(join(src, 'd/s'), 1000, 1001);
    await chmod(join(src, 'd/s'), 0o4755);
    await chown(join(src, 'd/g'), 1002, 1003);
    await chmod(join(src, 'd/g'), 0o2755);
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['d'], dest: '/o/' });
    expect(await info(join(dst, 'o/s'))).toMatchObject({ uid: 1000, gid: 1001, mode: '4755' });
    expect(await info(join(dst, 'o/g'))).toMatchObject({ uid: 1002, gid: 1003, mode: '2755' });
  });
});

describe('bytes kept from the checksum', () => {
  test('an unchanged file is copied from what the checksum read; a changed one is read again', async () => {
    const { src, dst } = await setup({ 'd/same': 'same bytes', 'd/edited': 'old bytes!' });
    await new Promise((r) => setTimeout(r, 200)); // past the racy window, as a real context is
    await checksumSources({ dir: src }, ['d']);
    const st = await lstat(join(src, 'd/same'), { bigint: true });
    expect(cachedContent(st)?.toString()).toBe('same bytes');
    // Same size, new content: its ctime moves, so what the checksum kept no longer applies.
    await writeTree(src, { 'd/edited': 'new bytes!' });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['d'], dest: '/o/' });
    expect(await readFile(join(dst, 'o/same'), 'utf8')).toBe('same bytes');
    expect(await readFile(join(dst, 'o/edited'), 'utf8')).toBe('new bytes!');
    clearContentCache();
    expect(cachedContent(st)).toBeUndefined();
  });

  test('files changed moments ago are never kept', async () => {
    const { src } = await setup({ 'fresh': 'just written' });
    await checksumSources({ dir: src }, ['fresh']);
    expect(cachedContent(await lstat(join(src, 'fresh'), { bigint: true }))).toBeUndefined();
  });
});
