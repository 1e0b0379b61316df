import { afterEach, describe, expect, test } from 'vitest';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { openContext } from '../../src/session/open.js';
import { contextView } from '../../src/session/view.js';
import { copyFiles } from '../../src/worker/file/copy.js';
import { isTbuildError } from '../../src/errors.js';
import { makeContext, type TreeSpec } from '../support/context.js';
import { compress, makeTar, type TarCompression } from '../support/tar.js';
import { tempDir } from '../support/tmp.js';
import { listTree, text } from '../worker/file/helpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function dirs(ctx: TreeSpec): Promise<{ ctxDir: string; root: string; dst: string }> {
  const c = await makeContext(ctx);
  const r = await tempDir('tb-root-');
  const d = await tempDir('tb-dst-');
  cleanups.push(c.cleanup, r.cleanup, d.cleanup);
  return { ctxDir: c.dir, root: r.path, dst: d.path };
}

/** COPY . /app/ from a directory context; the tree it produced. */
async function copyAll(ctx: TreeSpec, dockerfile?: string): Promise<string[]> {
  const { ctxDir, root, dst } = await dirs(ctx);
  const bc = await openContext(ctxDir, { root, dockerfile });
  try {
    await copyFiles({ srcRoot: bc.dir, ignore: bc.ignore, sources: ['.'], dest: '/app/', destRoot: dst });
  } finally {
    await bc.dispose();
  }
  return listTree(join(dst, 'app'));
}

describe('directory contexts', () => {
  test('the Dockerfile text is read, or taken as given', async () => {
    const { ctxDir, root } = await dirs({ Dockerfile: 'FROM scratch\n', 'other.Dockerfile': 'FROM x\n' });
    const a = await openContext(ctxDir, { root });
    expect(a.dockerfileText).toBe('FROM scratch\n');
    expect(a.dockerfilePath).toBe(join(ctxDir, 'Dockerfile'));
    await a.dispose();
    const b = await openContext(ctxDir, { root, dockerfile: 'other.Dockerfile' });
    expect(b.dockerfileText).toBe('FROM x\n');
    await b.dispose();
    const c = await openContext(ctxDir, { root, dockerfile: 'nope', dockerfileText: 'FROM y\n' });
    expect(c.dockerfileText).toBe('FROM y\n');
    await c.dispose();
  });

  test('a missing Dockerfile or context directory is TB_CONTEXT_INVALID', async () => {
    const { ctxDir, root } = await dirs({ 'a.txt': 'a' });
    const e1 = await openContext(ctxDir, { root }).catch((e) => e);
    expect(isTbuildError(e1, 'TB_CONTEXT_INVALID')).toBe(true);
    expect(e1.message).toContain('Dockerfile');
    const e2 = await openContext(join(ctxDir, 'nope'), { root, dockerfileText: 'FROM x' }).catch((e) => e);
    expect(isTbuildError(e2, 'TB_CONTEXT_INVALID')).toBe(true);
  });

  test('ignore-basic: files and directories excluded', async () => {
    expect(
      await copyAll({ Dockerfile: 'FROM x', '.dockerignore': '*.log\nsecret/\n', 'a.txt': 'a', 'debug.log': 'l', 'secret/key': 'k', 'sub/x.log': 'x' }),
    ).toEqual(['.dockerignore', 'Dockerfile', 'a.txt', 'sub', 'sub/x.log']);
  });

  test('ignore-dir-exception: one file re-included inside an excluded dir; Dockerfile ignorable', async () => {
    const { ctxDir, root, dst } = await dirs({
      Dockerfile: 'FROM x',
      '.dockerignore': 'docs\n!docs/keep.md\nDockerfile\n.dockerignore\n',
      'a.txt': 'a',
      'docs/drop.md': 'd',
      'docs/keep.md': 'k',
    });
    const bc = await openContext(ctxDir, { root });
    // The frontend still gets the Dockerfile even though COPY . must not include it.
    expect(bc.dockerfileText).toBe('FROM x');
    await copyFiles({ srcRoot: bc.dir, ignore: bc.ignore, sources: ['.'], dest: '/app/', destRoot: dst });
    await bc.dispose();
    expect(await listTree(join(dst, 'app'))).toEqual(['a.txt', 'docs', 'docs/keep.md']);
  });

  test('ignore-double-star, ignore-exception, ignore-last-match-wins', async () => {
    expect(
      await copyAll({
        Dockerfile: 'FROM x',
        '.dockerignore': '**/*.tmp\n**/cache\nDockerfile\n.dockerignore\n',
        'a.tmp': '1', 'cache/f': 'f', 'x/b.tmp': '2', 'x/cache/g': 'g', 'x/y/c.tmp': '3', 'x/y/keep.txt': 'k',
      }),
    ).toEqual(['x', 'x/y', 'x/y/keep.txt']);
    expect(
      await copyAll({ Dockerfile: 'FROM x', '.dockerignore': '*.md\n!README.md\n', 'NOTES.md': 'n', 'README.md': 'r', 'keep.txt': 'k' }),
    ).toEqual(['.dockerignore', 'Dockerfile', 'README.md', 'keep.txt']);
    expect(
      await copyAll({
        Dockerfile: 'FROM x', '.dockerignore': '!important.log\n*.log\nDockerfile\n.dockerignore\n',
        'a.txt': 'a', 'important.log': 'i', 'other.log': 'o',
      }),
    ).toEqual(['a.txt']);
  });

  test('ignore-dockerfile-specific: <Dockerfile>.dockerignore replaces .dockerignore; ignored sources do not exist', async () => {
    const { ctxDir, root, dst } = await dirs({
      '.dockerignore': 'a.txt\n',
      'a.txt': 'a',
      'b.txt': 'b',
      'build/app.Dockerfile': 'FROM x\nCOPY *.txt /app/\n',
      'build/app.Dockerfile.dockerignore': 'b.txt\n',
    });
    const bc = await openContext(ctxDir, { root, dockerfile: 'build/app.Dockerfile' });
    await copyFiles({ srcRoot: bc.dir, ignore: bc.ignore, sources: ['*.txt'], dest: '/app/', destRoot: dst });
    const err = await copyFiles({ srcRoot: bc.dir, ignore: bc.ignore, sources: ['b.txt'], dest: '/b', destRoot: dst }).catch((e) => e);
    await bc.dispose();
    expect(await listTree(join(dst, 'app'))).toEqual(['a.txt']);
    expect(isTbuildError(err, 'TB_COPY_SOURCE_NOT_FOUND')).toBe(true);
    expect(err.message).toContain('b.txt');
  });
});

describe('tar contexts', () => {
  test.each<TarCompression>(['none', 'gzip', 'bzip2', 'xz'])('%s: extracted under the state root, removed on dispose', async (kind) => {
    const { root } = await dirs({});
    const tar = await makeTar([
      { name: 'Dockerfile', content: 'FROM scratch\nCOPY . /\n' },
      { name: 'src/', type: 'directory' },
      { name: 'src/app.js', content: 'console.log(1)\n', mode: 0o755 },
      { name: '.dockerignore', content: 'secret\n' },
      { name: 'secret', content: 's' },
    ]);
    const bc = await openContext({ tar: Readable.from([compress(tar, kind)]) }, { root });
    expect(bc.fromTar).toBe(true);
    expect(bc.dir.startsWith(join(root, 'tmp') + '/')).toBe(true);
    expect(bc.dockerfileText).toBe('FROM scratch\nCOPY . /\n');
    expect(await text(join(bc.dir, 'src/app.js'))).toBe('console.log(1)\n');
    expect(((await stat(join(bc.dir, 'src/app.js'))).mode & 0o777).toString(8)).toBe('755');
    expect(bc.ignore.matches('secret')).toBe(true);
    await bc.dispose();
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
  });

  test('a plain Dockerfile on the stream is the Dockerfile of an empty context', async () => {
    const { root } = await dirs({});
    const bc = await openContext({ tar: Readable.from([Buffer.from('FROM scratch\n')]) }, { root });
    expect(bc.dockerfileText).toBe('FROM scratch\n');
    expect(await readdir(bc.dir)).toEqual([]);
    await bc.dispose();
  });

  test('hostile entries are refused and nothing is left behind', async () => {
    const { root } = await dirs({});
    const climbing = await makeTar([
      { name: 'Dockerfile', content: 'FROM x' },
      { name: '../../escaped', content: 'x' },
    ]);
    const e1 = await openContext({ tar: Readable.from([climbing]) }, { root }).catch((e) => e);
    expect(isTbuildError(e1, 'TB_TAR_HOSTILE')).toBe(true);
    const device = await makeTar([{ name: 'Dockerfile', content: 'FROM x' }, { name: 'null', type: 'character-device' }]);
    const e2 = await openContext({ tar: Readable.from([device]) }, { root }).catch((e) => e);
    expect(isTbuildError(e2, 'TB_TAR_HOSTILE')).toBe(true);
    // Writes through a symlink entry land inside the extraction dir, never outside it.
    const linked = await makeTar([
      { name: 'Dockerfile', content: 'FROM x' },
      { name: 'up', type: 'symlink', linkname: '../../../..' },
      { name: 'up/planted', content: 'p' },
    ]);
    const bc = await openContext({ tar: Readable.from([linked]) }, { root });
    expect(await text(join(bc.dir, 'planted'))).toBe('p');
    await bc.dispose();
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
    expect(await readdir(root)).toEqual(['tmp']);
  });

  test.each<TarCompression>(['gzip', 'xz', 'none'])('a %s stream cut short mid-archive fails and leaves nothing', async (kind) => {
    const { root } = await dirs({});
    const big = Array.from({ length: 4000 }, (_, i) => `line ${i} ${Math.sin(i)}`).join('\n');
    const whole = compress(await makeTar([{ name: 'Dockerfile', content: 'FROM x' }, { name: 'big.txt', content: big }, { name: 'z', content: 'z' }]), kind);
    const e = await openContext({ tar: Readable.from([whole.subarray(0, Math.floor(whole.length * 0.6))]) }, { root }).catch((err) => err);
    expect(isTbuildError(e, 'TB_TAR_FORMAT')).toBe(true);
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
  });

  test('a corrupt compressed stream is TB_TAR_FORMAT and leaves nothing', async () => {
    const { root } = await dirs({});
    const gz = compress(await makeTar([{ name: 'Dockerfile', content: 'FROM x'.repeat(1000) }]), 'xz');
    const e = await openContext({ tar: Readable.from([gz.subarray(0, 40)]) }, { root }).catch((err) => err);
    expect(isTbuildError(e, 'TB_TAR_FORMAT')).toBe(true);
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
  });
});

describe('contextView', () => {
  test('without ignore patterns it is the context itself; with them a filtered copy, removed on release', async () => {
    const plain = await dirs({ Dockerfile: 'FROM x', 'a.txt': 'a' });
    const bc1 = await openContext(plain.ctxDir, { root: plain.root });
    const v1 = await contextView(bc1, plain.root);
    expect(v1.dir).toBe(plain.ctxDir);
    await v1.release();
    await bc1.dispose();

    const { ctxDir, root } = await dirs({ Dockerfile: 'FROM x', '.dockerignore': '*.log\n', 'a.txt': 'a', 'b.log': 'b', 'sub/c.log': 'c', 'sub/d': 'd' });
    const bc = await openContext(ctxDir, { root });
    const v = await contextView(bc, root);
    expect(v.dir.startsWith(join(root, 'tmp') + '/')).toBe(true);
    expect(await listTree(v.dir)).toEqual(['.dockerignore', 'Dockerfile', 'a.txt', 'sub', 'sub/c.log', 'sub/d']);
    const sub = await contextView(bc, root, 'sub');
    expect(await listTree(sub.dir)).toEqual(['c.log', 'd']);
    await sub.release();
    const file = await contextView(bc, root, './a.txt');
    expect(await text(file.dir)).toBe('a');
    await file.release();
    const ignored = await contextView(bc, root, 'b.log').catch((e) => e);
    expect(isTbuildError(ignored, 'TB_COPY_SOURCE_NOT_FOUND')).toBe(true);
    await v.release();
    await bc.dispose();
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
  });
});
