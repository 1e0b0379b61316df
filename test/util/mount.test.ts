import { test, expect, beforeEach, afterEach } from 'vitest';
import { mkdir, writeFile, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, mountsUnder, isRoot } from '../support/tmp.js';
import { mountAll, withMounts, mountArgs } from '../../src/util/mount.js';

let t: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  t = await tempDir('tbm-');
});
afterEach(async () => {
  expect(await mountsUnder(t.path)).toEqual([]);
  await t.cleanup();
});

test('mountArgs builds argv without a shell and refuses over-long options', () => {
  expect(mountArgs({ type: 'bind', source: '/a', options: ['rbind', 'ro'] }, '/t')).toEqual(['-n', '-i', '--bind', '-o', 'rbind,ro', '/a', '/t']);
  expect(mountArgs({ type: 'tmpfs', source: 'tmpfs', options: [] }, '/t')).toEqual(['-n', '-i', '-t', 'tmpfs', 'tmpfs', '/t']);
  expect(() => mountArgs({ type: 'overlay', source: 'overlay', options: ['lowerdir=' + 'x'.repeat(5000)] }, '/t')).toThrow(
    expect.objectContaining({ code: 'TB_MOUNT' }),
  );
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
