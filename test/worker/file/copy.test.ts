import { afterEach, describe, expect, test } from 'vitest';
import { chmod, chown, mkdir, readlink, stat, symlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { copyFiles } from '../../../src/worker/file/copy.js';
import { isTbuildError } from '../../../src/errors.js';
import { makeContext, writeTree, type TreeSpec } from '../../support/context.js';
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

describe('COPY sources', () => {
  test('a directory copies its contents, with or without a trailing slash on the dest', async () => {
    const { src, dst } = await setup({ 'src/f1': '1\n', 'src/nested/f2': '2\n' });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['src'], dest: '/app/' });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['src'], dest: '/app2' });
    expect(await listTree(join(dst, 'app'))).toEqual(['f1', 'nested', 'nested/f2']);
    expect(await listTree(join(dst, 'app2'))).toEqual(['f1', 'nested', 'nested/f2']);
  });

  test('COPY . copies everything, hidden files included', async () => {
    const { src, dst } = await setup({ '.hidden': 'h', 'd/.inner': 'i', 'visible.txt': 'v', Dockerfile: 'FROM x' });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['.'], dest: '/all/' });
    expect(await listTree(join(dst, 'all'))).toEqual(['.hidden', 'Dockerfile', 'd', 'd/.inner', 'visible.txt']);
  });

  test('../ in a source is clamped to the context root', async () => {
    const { src: outer, dst } = await setup({ 'escape.txt': 'outside\n', 'ctx/escape.txt': 'inside\n' });
    const src = join(outer, 'ctx');
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['../escape.txt'], dest: '/e' });
    expect(await text(join(dst, 'e'))).toBe('inside\n');
  });

  test('wildcards: *, ?, [] and in a subdirectory', async () => {
    const { src, dst } = await setup({
      'a.txt': 'a', 'b.txt': 'b', 'c.md': 'c', 'c.txt': 'c', 'long.md': 'l', 'sub/x.txt': 'x', 'sub/y.log': 'y',
    });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['*.txt'], dest: '/w1/' });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['?.md'], dest: '/w2/' });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['[ab].txt'], dest: '/w3/' });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['sub/*.txt'], dest: '/w4/' });
    expect(await listTree(join(dst, 'w1'))).toEqual(['a.txt', 'b.txt', 'c.txt']);
    expect(await listTree(join(dst, 'w2'))).toEqual(['c.md']);
    expect(await listTree(join(dst, 'w3'))).toEqual(['a.txt', 'b.txt']);
    expect(await listTree(join(dst, 'w4'))).toEqual(['x.txt']);
  });

  test('a wildcard matching nothing is fine beside a source that exists', async () => {
    const { src, dst } = await setup({ 'a.txt': 'a' });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['nomatch*.cfg', 'a.txt'], dest: '/d/' });
    expect(await listTree(join(dst, 'd'))).toEqual(['a.txt']);
  });

  test('a wildcard matching nothing on its own copies nothing (BuildKit allows it)', async () => {
    const { src, dst } = await setup({ 'a.txt': 'a' });
    const stats = await copyFiles({ srcRoot: src, destRoot: dst, sources: ['nomatch*'], dest: '/d/' });
    expect(stats.files).toBe(0);
    expect(await listTree(dst)).toEqual([]);
  });

  test('a missing source fails with TB_COPY_SOURCE_NOT_FOUND naming it, before writing anything', async () => {
    const { src, dst } = await setup({ 'a.txt': 'a' });
    const err = await copyFiles({ srcRoot: src, destRoot: dst, sources: ['a.txt', 'missing-file.txt'], dest: '/' }).catch((e) => e);
    expect(isTbuildError(err, 'TB_COPY_SOURCE_NOT_FOUND')).toBe(true);
    expect(err.message).toContain('"/missing-file.txt": not found');
    expect(await listTree(dst)).toEqual([]);
  });

  test('a missing directory before a wildcard is not found', async () => {
    const { src, dst } = await setup({ 'a.txt': 'a' });
    const err = await copyFiles({ srcRoot: src, destRoot: dst, sources: ['nodir/*.txt'], dest: '/d/' }).catch((e) => e);
    expect(isTbuildError(err, 'TB_COPY_SOURCE_NOT_FOUND')).toBe(true);
    expect(err.message).toContain('nodir');
  });

  test('a symlink named as the source is followed; symlinks inside copied dirs stay links', async () => {
    const { src, dst } = await setup({
      'real.txt': 'real\n',
      toplink: { symlink: 'real.txt' },
      'dir/f': 'f',
      'dir/l': { symlink: 'f' },
      'dir/abs': { symlink: '/etc/passwd' },
      escape: { symlink: '../../../../etc/hostname' },
    });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['toplink'], dest: '/x' });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['toplink'], dest: '/y/' });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['dir'], dest: '/d/' });
    expect((await info(join(dst, 'x'))).type).toBe('file');
    expect(await text(join(dst, 'x'))).toBe('real\n');
    expect(await text(join(dst, 'y/toplink'))).toBe('real\n');
    expect(await readlink(join(dst, 'd/l'))).toBe('f');
    expect(await readlink(join(dst, 'd/abs'))).toBe('/etc/passwd');
    // A top-level link is followed inside the context only: the target outside does not exist there.
    const err = await copyFiles({ srcRoot: src, destRoot: dst, sources: ['escape'], dest: '/z' }).catch((e) => e);
    expect(isTbuildError(err, 'TB_COPY_SOURCE_NOT_FOUND')).toBe(true);
  });

  test('non-ASCII names and spaces', async () => {
    const { src, dst } = await setup({ 'café.txt': 'c', '日本語/ファイル.txt': 'j', 'with space.txt': 's' });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['café.txt'], dest: '/u/' });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['日本語'], dest: '/u/jp/' });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['with space.txt'], dest: '/u/with space.txt' });
    expect(await listTree(join(dst, 'u'))).toEqual(['café.txt', 'jp', 'jp/ファイル.txt', 'with space.txt']);
  });

  test('a stage rootfs as source: relative sources resolve from its root, not a WORKDIR', async () => {
    const { src, dst } = await setup({ out: 'root\n', 'wd/out': 'workdir\n' });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['out'], dest: '/got' });
    expect(await text(join(dst, 'got'))).toBe('root\n');
  });

  test('remote sources: ADD says unsupported, COPY refuses URLs', async () => {
    const { src, dst } = await setup({});
    const add = await copyFiles({ srcRoot: src, destRoot: dst, sources: ['https://example.com/x.tgz'], dest: '/', add: true }).catch((e) => e);
    expect(isTbuildError(add, 'TB_ADD_REMOTE_UNSUPPORTED')).toBe(true);
    const copy = await copyFiles({ srcRoot: src, destRoot: dst, sources: ['http://example.com/x'], dest: '/' }).catch((e) => e);
    expect(isTbuildError(copy, 'TB_INVALID_ARGUMENT')).toBe(true);
  });
});

describe('COPY destinations', () => {
  test('trailing slash means directory; an existing directory is used as one', async () => {
    const { src, dst } = await setup({ 'a.txt': 'a\n' }, { existing: { dir: true } });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['a.txt'], dest: '/d1/' });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['a.txt'], dest: '/d2' });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['a.txt'], dest: '/existing' });
    expect(await text(join(dst, 'd1/a.txt'))).toBe('a\n');
    expect((await info(join(dst, 'd2'))).type).toBe('file');
    expect(await text(join(dst, 'existing/a.txt'))).toBe('a\n');
  });

  test('several sources need a directory destination', async () => {
    const { src, dst } = await setup({ 'a.txt': 'a', 'b.txt': 'b' });
    const err = await copyFiles({ srcRoot: src, destRoot: dst, sources: ['a.txt', 'b.txt'], dest: '/nd' }).catch((e) => e);
    expect(isTbuildError(err, 'TB_COPY_DEST_NOT_DIR')).toBe(true);
    const wild = await copyFiles({ srcRoot: src, destRoot: dst, sources: ['*.txt'], dest: '/nd' }).catch((e) => e);
    expect(isTbuildError(wild, 'TB_COPY_DEST_NOT_DIR')).toBe(true);
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['a.txt', 'b.txt'], dest: '/dd/' });
    expect(await listTree(join(dst, 'dd'))).toEqual(['a.txt', 'b.txt']);
  });

  test('relative destinations resolve against WORKDIR', async () => {
    const { src, dst } = await setup({ 'f.txt': 'f\n' }, { app: { dir: true } });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['f.txt'], dest: '.', workdir: '/app' });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['f.txt'], dest: 'sub/', workdir: '/app' });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['f.txt'], dest: 'renamed.txt', workdir: '/app' });
    expect(await listTree(join(dst, 'app'))).toEqual(['f.txt', 'renamed.txt', 'sub', 'sub/f.txt']);
  });

  test('merges into existing directories and overwrites files; the existing top dir keeps its mode', async () => {
    const { src, dst } = await setup(
      { 't/added': 'added\n', 't/replace': 'new\n' },
      { t: { dir: true, mode: 0o700 }, 't/keep': 'old\n', 't/replace': 'old\n' },
    );
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['t'], dest: '/t/' });
    expect(await text(join(dst, 't/keep'))).toBe('old\n');
    expect(await text(join(dst, 't/replace'))).toBe('new\n');
    expect(await text(join(dst, 't/added'))).toBe('added\n');
    expect((await info(join(dst, 't'))).mode).toBe('0700');
  });

  test('destination symlinks are followed inside the destination root only', async () => {
    const { src, dst } = await setup({ 'a.txt': 'a\n' }, { etc: { dir: true } });
    await symlink('/etc', join(dst, 'link'));
    await symlink('../../../../../../tmp', join(dst, 'up'));
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['a.txt'], dest: '/link/' });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['a.txt'], dest: '/up/x/' });
    expect(await text(join(dst, 'etc/a.txt'))).toBe('a\n');
    expect(await text(join(dst, 'tmp/x/a.txt'))).toBe('a\n');
  });

  test('COPY --link shape: deep parents created in an empty root', async () => {
    const { src, dst } = await setup({ 'a.txt': 'a\n', 'dir/f': 'f\n' });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['a.txt'], dest: '/linked/deep/a.txt' });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['dir'], dest: '/l/' });
    expect(await listTree(dst)).toEqual(['l', 'l/f', 'linked', 'linked/deep', 'linked/deep/a.txt']);
    expect((await info(join(dst, 'linked/deep'))).mode).toBe('0755');
  });
});

describe('COPY metadata', () => {
  test('modes preserved, owner reset to 0:0, mtime kept', async () => {
    const { src, dst } = await setup({
      'run.sh': { content: '#!/bin/sh\necho ran\n', mode: 0o755, mtime: 1_600_000_000 },
      'plain.txt': { content: 'p\n', mode: 0o644 },
      'suid': { content: 's', mode: 0o4755 },
    });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['run.sh', 'plain.txt', 'suid'], dest: '/m/' });
    expect(await info(join(dst, 'm/run.sh'))).toMatchObject({ mode: '0755', uid: 0, gid: 0, mtime: 1_600_000_000 });
    expect((await info(join(dst, 'm/plain.txt'))).mode).toBe('0644');
    expect((await info(join(dst, 'm/suid'))).mode).toBe('4755');
  });

  test('directory mtimes are kept too, after their contents are written', async () => {
    const { src, dst } = await setup({ 'dir/sub/deeper/f': 'f', 'dir/g': 'g' });
    await utimes(join(src, 'dir/sub/deeper'), 1_500_000_000, 1_500_000_000);
    await utimes(join(src, 'dir/sub'), 1_400_000_000, 1_400_000_000);
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['dir'], dest: '/d/' });
    expect((await info(join(dst, 'd/sub'))).mtime).toBe(1_400_000_000);
    expect((await info(join(dst, 'd/sub/deeper'))).mtime).toBe(1_500_000_000);
  });

  test('--chmod octal applies to files and every copied directory', async () => {
    const { src, dst } = await setup({ 'a.txt': 'a', 'dir/f': 'f', 'dir/sub/g': 'g' });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['a.txt'], dest: '/a', chmod: '0640' });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['dir'], dest: '/d/', chmod: '750' });
    expect((await info(join(dst, 'a'))).mode).toBe('0640');
    for (const p of ['d/f', 'd/sub', 'd/sub/g']) expect((await info(join(dst, p))).mode).toBe('0750');
  });

  test('--chmod symbolic edits the source mode', async () => {
    const { src, dst } = await setup({ 'x.sh': { content: 'x', mode: 0o644 }, 'e.sh': { content: 'e', mode: 0o744 }, 'd/f': 'f' });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['x.sh'], dest: '/x', chmod: 'u+x,g-r' });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['e.sh', 'd'], dest: '/r/', chmod: 'a=rX' });
    expect((await info(join(dst, 'x'))).mode).toBe('0704');
    expect((await info(join(dst, 'r/e.sh'))).mode).toBe('0555');
    expect((await info(join(dst, 'r/f'))).mode).toBe('0444');
  });

  test('--chown numeric needs no lookup; names come from the destination /etc files', async () => {
    const { src, dst } = await setup(
      { 'a.txt': 'a' },
      {
        'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\napp:x:1500:1600::/:/bin/sh\n',
        'etc/group': 'root:x:0:\nappg:x:1600:\ngrp:x:1700:\n',
      },
    );
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['a.txt'], dest: '/a', chown: 'app:grp' });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['a.txt'], dest: '/b', chown: 'app' });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['a.txt'], dest: '/c', chown: '1500:grp' });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['a.txt'], dest: '/n/deep/p', chown: '7:8', chmod: '600' });
    expect(await info(join(dst, 'a'))).toMatchObject({ uid: 1500, gid: 1700 });
    expect(await info(join(dst, 'b'))).toMatchObject({ uid: 1500, gid: 1600 });
    expect(await info(join(dst, 'c'))).toMatchObject({ uid: 1500, gid: 1700 });
    expect(await info(join(dst, 'n/deep/p'))).toMatchObject({ uid: 7, gid: 8, mode: '0600' });
    // Parents the copy creates belong to the --chown owner.
    expect(await info(join(dst, 'n/deep'))).toMatchObject({ uid: 7, gid: 8, mode: '0755' });
    const err = await copyFiles({ srcRoot: src, destRoot: dst, sources: ['a.txt'], dest: '/z', chown: 'nobody' }).catch((e) => e);
    expect(isTbuildError(err, 'TB_USER_UNKNOWN')).toBe(true);
  });

  test('hardlinks within one copy stay hardlinks', async () => {
    const { src, dst } = await setup({ 'd/a': 'same', 'd/b': { hardlink: 'd/a' }, 'd/c': 'other' });
    const stats = await copyFiles({ srcRoot: src, destRoot: dst, sources: ['d'], dest: '/h/' });
    const a = await stat(join(dst, 'h/a'));
    const b = await stat(join(dst, 'h/b'));
    expect(a.ino).toBe(b.ino);
    expect(stats.hardlinks).toBe(1);
    expect(await text(join(dst, 'h/b'))).toBe('same');
  });
});

describe('ownership and the destination directory', () => {
  test('context sources become 0:0; stage/image sources keep their owner unless --chown', async () => {
    const { src, dst } = await setup({ 'f': 'f', 'd/g': 'g' });
    await chown(join(src, 'f'), 1000, 1001);
    await chown(join(src, 'd/g'), 1002, 1003);
    const ignore = { matches: () => false, canSkipDir: () => false };
    await copyFiles({ srcRoot: src, ignore, destRoot: dst, sources: ['f', 'd'], dest: '/ctx/' });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['f', 'd'], dest: '/stage/' });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['f'], dest: '/forced/', chown: '5:6' });
    expect(await info(join(dst, 'ctx/f'))).toMatchObject({ uid: 0, gid: 0 });
    expect(await info(join(dst, 'ctx/g'))).toMatchObject({ uid: 0, gid: 0 });
    expect(await info(join(dst, 'stage/f'))).toMatchObject({ uid: 1000, gid: 1001 });
    expect(await info(join(dst, 'stage/g'))).toMatchObject({ uid: 1002, gid: 1003 });
    expect(await info(join(dst, 'forced/f'))).toMatchObject({ uid: 5, gid: 6 });
  });

  test('a destination dir created for a directory source is 0755 root, not a copy of the source dir', async () => {
    const { src, dst } = await setup({ 'priv/sub/f': 'f' });
    await chmod(join(src, 'priv'), 0o700);
    await chmod(join(src, 'priv/sub'), 0o710);
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['priv'], dest: '/out/' });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['.'], dest: '/all/' });
    expect(await info(join(dst, 'out'))).toMatchObject({ mode: '0755', uid: 0 });
    expect((await info(join(dst, 'out/sub'))).mode).toBe('0710');
    expect((await info(join(dst, 'all'))).mode).toBe('0755');
    expect((await info(join(dst, 'all/priv'))).mode).toBe('0700');
  });

  test('a file never replaces a directory', async () => {
    const { src, dst } = await setup({ 'x': 'x', 'd/sub': 'file now' }, { 'd/x/keep': 'k', 'e/sub/keep': 'k' });
    const e1 = await copyFiles({ srcRoot: src, destRoot: dst, sources: ['x'], dest: '/d/' }).catch((e) => e);
    expect(isTbuildError(e1, 'TB_COPY_DEST_IS_DIR')).toBe(true);
    expect(e1.message).toContain('/d/x');
    const e2 = await copyFiles({ srcRoot: src, destRoot: dst, sources: ['d'], dest: '/e/' }).catch((e) => e);
    expect(isTbuildError(e2, 'TB_COPY_DEST_IS_DIR')).toBe(true);
    expect(await text(join(dst, 'e/sub/keep'))).toBe('k');
  });

  test('a directory never replaces a file; a symlink to a directory is merged into, inside the root', async () => {
    const { src, dst } = await setup({ 't/sub/f': 'f', 't/lnk/g': 'g' }, { 'o/sub': 'a file', 'real/keep': 'k' });
    const err = await copyFiles({ srcRoot: src, destRoot: dst, sources: ['t'], dest: '/o/' }).catch((e) => e);
    expect(isTbuildError(err, 'TB_COPY_DEST_NOT_DIR')).toBe(true);
    expect(err.message).toContain('/o/sub');
    await mkdir(join(dst, 'p'));
    await symlink('/real', join(dst, 'p/lnk'));
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['t'], dest: '/p/' });
    expect(await listTree(join(dst, 'real'))).toEqual(['g', 'keep']);
  });
});

describe('COPY --parents and --exclude', () => {
  test('--parents keeps source directories; /./ pivots', async () => {
    const { src, dst } = await setup({ 'x/y/a.txt': 'a', 'x/y/b.log': 'b', 'x/z/c.txt': 'c', 'top.txt': 't' });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['x/*/*.txt', 'top.txt'], dest: '/p/', parents: true });
    expect(await listTree(join(dst, 'p'))).toEqual(['top.txt', 'x', 'x/y', 'x/y/a.txt', 'x/z', 'x/z/c.txt']);
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['x/./y/a.txt'], dest: '/q/', parents: true });
    expect(await listTree(join(dst, 'q'))).toEqual(['y', 'y/a.txt']);
  });

  test('--exclude skips matching entries inside copied dirs and among wildcard matches', async () => {
    const { src, dst } = await setup({ 'app/a.txt': 'a', 'app/b.log': 'b', 'app/sub/c.log': 'c', 'app/sub/d.txt': 'd', 'home.txt': 'h', 'homework': 'w' });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['app'], dest: '/e/', excludes: ['*.log', 'sub/*.log'] });
    expect(await listTree(join(dst, 'e'))).toEqual(['a.txt', 'sub', 'sub/d.txt']);
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['hom*'], dest: '/w/', excludes: ['*.txt'] });
    expect(await listTree(join(dst, 'w'))).toEqual(['homework']);
  });
});

describe('heredoc sources', () => {
  test('written 0644 by default, --chmod applies, parents created, name used for dir dests', async () => {
    const { dst } = await setup({});
    await copyFiles({ destRoot: dst, sources: [], inline: [{ name: 'EOF', content: '#!/bin/sh\necho hi\n' }], dest: '/usr/local/bin/hi', chmod: '755' });
    await copyFiles({ destRoot: dst, sources: [], inline: [{ name: 'EOF', content: 'x\n' }], dest: '/plain' });
    await copyFiles({ destRoot: dst, sources: [], inline: [{ name: 'one', content: '1' }, { name: 'two', content: '2' }], dest: '/conf/' });
    expect(await info(join(dst, 'usr/local/bin/hi'))).toMatchObject({ mode: '0755', uid: 0, gid: 0 });
    expect(await text(join(dst, 'usr/local/bin/hi'))).toBe('#!/bin/sh\necho hi\n');
    expect((await info(join(dst, 'plain'))).mode).toBe('0644');
    expect(await listTree(join(dst, 'conf'))).toEqual(['one', 'two']);
  });
});

describe('scratch', () => {
  test('a single file into an empty root: only that file, 0644, root-owned', async () => {
    const { src, dst } = await setup({ 'hello.txt': 'hello\n' });
    await mkdir(join(dst), { recursive: true });
    await copyFiles({ srcRoot: src, destRoot: dst, sources: ['hello.txt'], dest: '/hello.txt' });
    expect(await listTree(dst)).toEqual(['hello.txt']);
    expect(await info(join(dst, 'hello.txt'))).toMatchObject({ mode: '0644', uid: 0, gid: 0 });
  });
});
