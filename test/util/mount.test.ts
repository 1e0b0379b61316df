import { test, expect, beforeEach, afterEach } from 'vitest';
import { mkdir, writeFile, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, mountsUnder, isRoot } from '../support/tmp.js';
import { mountAll, withMounts, mountCalls } from '../../src/util/mount.js';

let t: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  t = await tempDir('tbm-');
});
afterEach(async () => {
  expect(await mountsUnder(t.path)).toEqual([]);
  await t.cleanup();
});

test('mountCalls: the system calls util-linux would make; over-long options are refused', () => {
  // a bind takes its flags from a remount, its propagation from a call of its own
  expect(mountCalls({ type: 'bind', source: '/a', options: ['rbind', 'ro', 'nosuid', 'rprivate'] }, '/t')).toEqual([
    ['mount', '/a', '/t', null, 4096 | 16384, null],
    ['mount', null, '/t', null, 32 | 4096 | 1 | 2, null],
    ['mount', null, '/t', null, (1 << 18) | 16384, null],
  ]);
  expect(mountCalls({ type: 'bind', source: '/a', options: ['rbind', 'rw'] }, '/t')).toEqual([['mount', '/a', '/t', null, 4096 | 16384, null]]);
  // flags become flags, the rest the filesystem's data
  expect(mountCalls({ type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', 'size=65536k'] }, '/t')).toEqual([['mount', 'tmpfs', '/t', 'tmpfs', 2 | 4, 'mode=1777,size=65536k']]);
  expect(mountCalls({ type: 'overlay', source: 'overlay', options: ['lowerdir=l', 'upperdir=u', 'workdir=w'] }, '/t')).toEqual([['mount', 'overlay', '/t', 'overlay', 0, 'lowerdir=l,upperdir=u,workdir=w']]);
  expect(() => mountCalls({ type: 'overlay', source: 'overlay', options: ['lowerdir=' + 'x'.repeat(5000)] }, '/t')).toThrow(expect.objectContaining({ code: 'TB_MOUNT' }));
});

test.runIf(isRoot)('a read-only bind is read-only; a relative overlay resolves from its cwd; a busy target is detached', async () => {
  const src = join(t.path, 'src');
  const tgt = join(t.path, 'tgt');
  await mkdir(src);
  await mkdir(tgt);
  await writeFile(join(src, 'f'), 'hi');
  await withMounts([{ type: 'bind', source: src, options: ['rbind', 'ro'] }], tgt, async (d) => {
    await expect(writeFile(join(d, 'g'), 'x')).rejects.toMatchObject({ code: 'EROFS' });
  });
  for (const d of ['l', 'u', 'w', 'm']) await mkdir(join(t.path, d));
  await writeFile(join(t.path, 'l', 'low'), 'low');
  await withMounts([{ type: 'overlay', source: 'overlay', options: ['lowerdir=l', 'upperdir=u', 'workdir=w'], cwd: t.path }], join(t.path, 'm'), async (d) => {
    expect(await readFile(join(d, 'low'), 'utf8')).toBe('low');
    await writeFile(join(d, 'up'), 'up');
  });
  expect(await readdir(join(t.path, 'u'))).toEqual(['up']);
  // an open file keeps the mount busy: the unmount detaches it lazily instead of failing
  const release = await mountAll([{ type: 'bind', source: src, options: ['rbind'] }], tgt);
  const { open } = await import('node:fs/promises');
  const fh = await open(join(tgt, 'f'));
  try {
    await release();
    expect(await mountsUnder(t.path)).toEqual([]);
  } finally {
    await fh.close();
  }
});

test.runIf(isRoot)('withMounts unmounts after success and after an error', async () => {
  const src = join(t.path, 'src');
  const tgt = join(t.path, 'tgt');
  await mkdir(src);
  await mkdir(tgt);
  await writeFile(join(src, 'f'), 'hi');
  const got = await withMounts([{ type: 'bind', source: src, options: ['rbind', 'ro'] }], tgt, async (d) => {
    expect(await mountsUnder(tgt)).toEqual([tgt]);
    await expect(writeFile(join(d, 'g'), 'x')).rejects.toMatchObject({ code: 'EROFS' });
    return readFile(join(d, 'f'), 'utf8');
  });
  expect(got).toBe('hi');
  expect(await mountsUnder(tgt)).toEqual([]);
  await expect(
    withMounts([{ type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] }], tgt, async () => {
      throw new Error('boom');
    }),
  ).rejects.toThrow('boom');
  expect(await mountsUnder(tgt)).toEqual([]);
});

test.runIf(isRoot)('overlay with relative lowerdirs and a cwd; busy targets are detached lazily', async () => {
  for (const d of ['l1', 'l2', 'up', 'work', 'tgt']) await mkdir(join(t.path, d));
  await writeFile(join(t.path, 'l1/a'), '1');
  await writeFile(join(t.path, 'l2/a'), '2');
  await writeFile(join(t.path, 'l2/b'), 'b');
  const release = await mountAll(
    [{ type: 'overlay', source: 'overlay', options: ['lowerdir=l1:l2', 'upperdir=up', 'workdir=work'], cwd: t.path }],
    join(t.path, 'tgt'),
  );
  expect(await readFile(join(t.path, 'tgt/a'), 'utf8')).toBe('1');
  expect((await readdir(join(t.path, 'tgt'))).sort()).toEqual(['a', 'b']);
  // keep it busy with an open directory handle: umount fails, the lazy fallback detaches it
  const { opendir } = await import('node:fs/promises');
  const dh = await opendir(join(t.path, 'tgt'));
  await release();
  await release(); // idempotent
  await dh.close();
});

test.runIf(isRoot)('a failing mount reports TB_MOUNT and leaves nothing mounted', async () => {
  const tgt = join(t.path, 'tgt');
  await mkdir(tgt);
  await expect(
    mountAll(
      [
        { type: 'tmpfs', source: 'tmpfs', options: [] },
        { type: 'bind', source: join(t.path, 'missing'), options: ['rbind'] },
      ],
      tgt,
    ),
  ).rejects.toMatchObject({ code: 'TB_MOUNT' });
  expect(await mountsUnder(tgt)).toEqual([]);
});
