import { afterEach, describe, expect, test } from 'vitest';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { copyFiles } from '../../../src/worker/file/copy.js';
import { isTbuildError } from '../../../src/errors.js';
import { makeContext, writeTree, type TreeSpec } from '../../support/context.js';
import { compress, makeTar, type TarCompression } from '../../support/tar.js';
import { tempDir } from '../../support/tmp.js';
import { info, listTree, text } from './helpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(ctx: TreeSpec, dest: TreeSpec = {}): Promise<{ src: string; dst: string }> {
  const c = await makeContext(ctx);
  const d = await tempDir('tb-dst-');
  cleanups.push(c.cleanup, d.cleanup);
  await writeTree(d.path, dest);
  return { src: c.dir, dst: d.path };
}


describe('ADD local archives', () => {
  test('a gzip tar is extracted; a plain file is copied (conformance add-tar-extract)', async () => {
    const { src, dst } = await setup({ 'plain.txt': 'plain\n' });
    const app = await makeTar([
      { name: 'top/', type: 'directory', mode: 0o755 },
      { name: 'top/a.txt', content: 'a\n' },
      { name: 'top/b/', type: 'directory', mode: 0o755 },
      { name: 'top/b/c.txt', content: 'c\n' },
    ]);
    await writeFile(join(src, 'app.tar.gz'), compress(app, 'gzip'));
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['app.tar.gz'], dest: '/x/', add: true });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['plain.txt'], dest: '/p.txt', add: true });
    expect(await listTree(join(dst, 'x'))).toEqual(['top', 'top/a.txt', 'top/b', 'top/b/c.txt']);
    expect(await text(join(dst, 'p.txt'))).toBe('plain\n');
  });

  test('bzip2 and xz tars merge into an existing directory (conformance add-tar-formats-merge)', async () => {
    const { src, dst } = await setup({}, { 'm/existing': 'existing\n' });
    await writeFile(join(src, 'a.tar.bz2'), compress(await makeTar([{ name: 'from-bz2', content: 'bz\n' }]), 'bzip2'));
    await writeFile(join(src, 'b.tar.xz'), compress(await makeTar([{ name: 'from-xz', content: 'xz\n' }]), 'xz'));
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['a.tar.bz2'], dest: '/m/', add: true });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['b.tar.xz'], dest: '/m/', add: true });
    expect(await listTree(join(dst, 'm'))).toEqual(['existing', 'from-bz2', 'from-xz']);
    expect(await text(join(dst, 'm/from-xz'))).toBe('xz\n');
  });

  test.each<TarCompression>(['none', 'gzip', 'bzip2', 'xz', 'zstd'])('detected by content, not name: %s', async (kind) => {
    const tar = await makeTar([
      { name: 'd/', type: 'directory', mode: 0o750 },
      { name: 'd/f', content: 'f\n', mode: 0o640, uid: 123, gid: 456 },
      { name: 'd/l', type: 'symlink', linkname: 'f' },
      { name: 'd/h', type: 'link', linkname: 'd/f' },
      { name: '.wh.gone', content: 'not a whiteout here' },
    ]);
    const { src, dst } = await setup({ 'archive.dat': compress(tar, kind) });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['archive.dat'], dest: '/out', add: true });
    expect(await listTree(join(dst, 'out'))).toEqual(['.wh.gone', 'd', 'd/f', 'd/h', 'd/l']);
    expect(await info(join(dst, 'out/d/f'))).toMatchObject({ mode: '0640', uid: 123, gid: 456 });
    expect((await info(join(dst, 'out/d'))).mode).toBe('0750');
    expect((await info(join(dst, 'out/d/l'))).type).toBe('symlink');
    expect(await text(join(dst, 'out/d/h'))).toBe('f\n');
  });

  test('--chown applies to extracted entries; --unpack=false copies the archive as a file', async () => {
    const tar = compress(await makeTar([{ name: 'a', content: 'a', uid: 5, gid: 5 }]), 'gzip');
    const { src, dst } = await setup({ 'a.tgz': tar });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['a.tgz'], dest: '/c/', add: true, chown: '7:8' });
    expect(await info(join(dst, 'c/a'))).toMatchObject({ uid: 7, gid: 8 });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['a.tgz'], dest: '/raw/', add: true, unpack: false });
    expect(await readdir(join(dst, 'raw'))).toEqual(['a.tgz']);
    // COPY never extracts.
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['a.tgz'], dest: '/cp/' });
    expect(await readdir(join(dst, 'cp'))).toEqual(['a.tgz']);
  });

  test('a file named like an archive that is not one is copied as is', async () => {
    const { src, dst } = await setup({ 'fake.tar.gz': 'not gzip at all\n', 'gz-not-tar.gz': compress(Buffer.from('hello'), 'gzip') });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['fake.tar.gz', 'gz-not-tar.gz'], dest: '/f/', add: true });
    expect(await listTree(join(dst, 'f'))).toEqual(['fake.tar.gz', 'gz-not-tar.gz']);
  });

  test('--chown and --chmod on a plain file (conformance add-chown-chmod-file)', async () => {
    const { src, dst } = await setup({ 'plain.txt': 'p' });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['plain.txt'], dest: '/p', add: true, chown: '7:8', chmod: '600' });
    expect(await info(join(dst, 'p'))).toMatchObject({ mode: '0600', uid: 7, gid: 8 });
  });

  test('hostile entries: .. is refused; writes through symlinks stay inside the root', async () => {
    const bad = await makeTar([{ name: '../../../evil', content: 'x' }]);
    const tricky = await makeTar([
      { name: 'l', type: 'symlink', linkname: '/' },
      { name: 'l/etc/planted', content: 'inside' },
      { name: 'abs', type: 'symlink', linkname: '../../../../../../' },
      { name: 'abs/planted2', content: 'inside2' },
    ]);
    const { src, dst } = await setup({ 'bad.tar': bad, 'tricky.tar': tricky });
    const err = await copyFiles({ srcRoot: src, destRoot: dst, sources: ['bad.tar'], dest: '/x/', add: true }).catch((e) => e);
    expect(isTbuildError(err, 'TB_TAR_HOSTILE')).toBe(true);
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['tricky.tar'], dest: '/t/', add: true });
    expect(await text(join(dst, 'etc/planted'))).toBe('inside');
    expect(await text(join(dst, 'planted2'))).toBe('inside2');
  });

  test('a later entry that turns a directory into a symlink is resolved afresh', async () => {
    const tar = await makeTar([
      { name: 'd/', type: 'directory' },
      { name: 'd/f', content: 'f' },
      { name: 'd', type: 'symlink', linkname: '/elsewhere' },
      { name: 'd/g', content: 'g' },
    ]);
    const { src, dst } = await setup({ 'x.tar': tar });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['x.tar'], dest: '/t/', add: true });
    expect((await info(join(dst, 't/d'))).type).toBe('symlink');
    expect(await text(join(dst, 'elsewhere/g'))).toBe('g');
  });
});

test('a corrupt compressed archive named as a source is copied as a file', async () => {
  const { src, dst } = await setup({});
  const gz = compress(await makeTar([{ name: 'a', content: 'a' }]), 'gzip');
  await writeFile(join(src, 'trunc.tgz'), gz.subarray(0, 12));
  await copyFiles({ srcRoot: src, destRoot: dst, sources: ['trunc.tgz'], dest: '/z/', add: true });
  expect(await readdir(join(dst, 'z'))).toEqual(['trunc.tgz']);
});
