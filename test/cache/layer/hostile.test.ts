import { test, expect, beforeEach, afterEach, describe } from 'vitest';
import { mkdir, writeFile, readFile, lstat, readlink, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { tempDir } from '../../support/tmp.js';
import { makeTar, type TarEntrySpec } from './tar-helpers.js';
import { applyTar } from '../../../src/cache/layer/index.js';
import { isTbuildError } from '../../../src/errors.js';
import { sha256 } from '../../../src/util/digest.js';
import { scanXattrs } from '../../../src/cache/fsops.js';
import type { ApplyTarOptions } from '../../../src/cache/types.js';

let t: Awaited<ReturnType<typeof tempDir>>;
let root: string;
let canary: string;
let hostPasswd: string;

beforeEach(async () => {
  t = await tempDir('tbh-');
  root = join(t.path, 'root');
  await mkdir(root);
  canary = join(t.path, 'canary');
  await writeFile(canary, 'untouched');
  hostPasswd = sha256(await readFile('/etc/passwd'));
});

afterEach(async () => {
  // nothing outside the root changed: only `root` and the canary exist beside each other
  expect((await readdir(t.path)).sort()).toEqual(['canary', 'root']);
  expect(await readFile(canary, 'utf8')).toBe('untouched');
  expect((await stat(canary)).nlink).toBe(1);
  expect(sha256(await readFile('/etc/passwd'))).toBe(hostPasswd);
  await t.cleanup();
});

async function apply(entries: TarEntrySpec[], opts?: ApplyTarOptions): Promise<string | undefined> {
  try {
    await applyTar(Readable.from([await makeTar(entries)]), root, opts);
    return undefined;
  } catch (err) {
    return isTbuildError(err) ? err.code : `non-tbuild: ${(err as Error).message}`;
  }
}

const file = (name: string, content = 'pwned'): TarEntrySpec => ({ name, content });

describe('hostile layer tarballs are refused or confined', () => {
  test('../ escaping the root is refused', async () => {
    expect(await apply([file('../canary')])).toBe('TB_TAR_HOSTILE');
    expect(await apply([file('a/../../canary')])).toBe('TB_TAR_HOSTILE');
    expect(await apply([file('../../etc/passwd')])).toBe('TB_TAR_HOSTILE');
  });

  test('absolute names land under the root', async () => {
    expect(await apply([file('/abs/path'), file(canary)])).toBeUndefined();
    expect(await readFile(join(root, 'abs/path'), 'utf8')).toBe('pwned');
    expect(await readFile(join(root, canary), 'utf8')).toBe('pwned');
  });

  test('symlink to / then a write through it stays inside', async () => {
    expect(
      await apply([{ name: 'x', type: 'symlink', linkname: '/' }, file('x/etc/passwd'), file(`x${canary}`)]),
    ).toBeUndefined();
    expect(await readFile(join(root, 'etc/passwd'), 'utf8')).toBe('pwned');
    expect(await readFile(join(root, canary), 'utf8')).toBe('pwned');
    expect(await readlink(join(root, 'x'))).toBe('/');
  });

  test('symlink to ../.. then a write through it clamps at the root', async () => {
    expect(await apply([{ name: 'up', type: 'symlink', linkname: '../..' }, file('up/canary')])).toBeUndefined();
    expect(await readFile(join(root, 'canary'), 'utf8')).toBe('pwned');
  });

  test('symlink to the absolute host dir, then writes through it, stay inside', async () => {
    expect(await apply([{ name: 'esc', type: 'symlink', linkname: t.path }, file('esc/canary')])).toBeUndefined();
    expect(await readFile(join(root, t.path, 'canary'), 'utf8')).toBe('pwned');
  });

  test('a file entry replaces a symlink instead of writing through it', async () => {
    expect(await apply([{ name: 'l', type: 'symlink', linkname: canary }, file('l')])).toBeUndefined();
    expect((await lstat(join(root, 'l'))).isFile()).toBe(true);
  });

  test('a directory swapped for a symlink mid-archive cannot redirect later entries', async () => {
    const code = await apply([
      { name: 'd', type: 'directory', mode: 0o755 },
      { name: 'd/f', content: 'x', pax: { 'SCHILY.xattr.user.x': 'v' } },
      { name: 'd', type: 'symlink', linkname: t.path },
      file('d/canary'),
    ]);
    // refused: the xattr queued for d/f would now go through the link
    expect(code).toBe('TB_TAR_HOSTILE');
  });

  test('hard links to host files or outside the root are refused', async () => {
    expect(await apply([{ name: 'h', type: 'link', linkname: '/etc/shadow' }])).toBe('TB_TAR_HOSTILE');
    expect(await apply([{ name: 'h', type: 'link', linkname: '../canary' }])).toBe('TB_TAR_HOSTILE');
    expect(await apply([{ name: 'h', type: 'link', linkname: canary }])).toBe('TB_TAR_HOSTILE');
    expect(
      await apply([{ name: 's', type: 'symlink', linkname: t.path }, { name: 'h2', type: 'link', linkname: 's/canary' }]),
    ).toBe('TB_TAR_HOSTILE');
  });

  test('hard links inside the layer work', async () => {
    expect(await apply([file('a', 'same'), { name: 'b', type: 'link', linkname: 'a' }])).toBeUndefined();
    expect((await lstat(join(root, 'a'))).ino).toBe((await lstat(join(root, 'b'))).ino);
  });

  test('device nodes are skipped unless allowed; whiteouts of . and .. are refused', async () => {
    const dev: TarEntrySpec = { name: 'sda', type: 'block-device', devmajor: 8, devminor: 0, mode: 0o660 };
    const chr: TarEntrySpec = { name: 'mem', type: 'character-device', devmajor: 1, devminor: 1, mode: 0o640 };
    expect(await apply([dev, chr])).toBeUndefined();
    expect(await readdir(root)).toEqual([]);
    expect(await apply([dev, chr], { allowDevices: true })).toBeUndefined();
    expect((await lstat(join(root, 'sda'))).isBlockDevice()).toBe(true);
    expect((await lstat(join(root, 'mem'))).rdev).toBe(0x101);
    expect(await apply([file('.wh...')])).toBe('TB_TAR_HOSTILE');
    expect(await apply([file('a/.wh..')])).toBe('TB_TAR_HOSTILE');
    expect(await apply([file('.wh.')])).toBe('TB_TAR_HOSTILE');
    expect(await apply([file('../.wh.canary')])).toBe('TB_TAR_HOSTILE');
  });

  test('a whiteout through a symlinked parent lands inside', async () => {
    expect(await apply([{ name: 'p', type: 'symlink', linkname: t.path }, file('p/.wh.canary')])).toBeUndefined();
    expect((await lstat(join(root, t.path, 'canary'))).isCharacterDevice()).toBe(true);
  });

  test('overlay xattrs in a tar are ignored', async () => {
    expect(
      await apply([{ name: 'd', type: 'directory', pax: { 'SCHILY.xattr.trusted.overlay.redirect': '/etc' } }]),
    ).toBeUndefined();
    expect((await lstat(join(root, 'd'))).isDirectory()).toBe(true);
    expect((await scanXattrs(root)).get('d')).toBeUndefined();
  });

  test('plain archives (whiteouts off) and a wider confinement root, as docker cp uses', async () => {
    expect(await apply([file('.wh.x', 'plain'), file('d/.wh..wh..opq', 'also plain')], { whiteouts: false })).toBeUndefined();
    expect(await readFile(join(root, '.wh.x'), 'utf8')).toBe('plain');
    expect(await readFile(join(root, 'd/.wh..wh..opq'), 'utf8')).toBe('also plain');
    await mkdir(join(root, 'sub'));
    await mkdir(join(root, 'etc'));
    const tarball = await makeTar([{ name: 'l', type: 'symlink', linkname: '/etc' }, file('l/x', 'in etc'), file('f', 'in sub')]);
    await applyTar(Readable.from([tarball]), join(root, 'sub'), { root });
    expect(await readFile(join(root, 'etc/x'), 'utf8')).toBe('in etc');
    expect(await readFile(join(root, 'sub/f'), 'utf8')).toBe('in sub');
    await expect(applyTar(Readable.from([tarball]), join(root, 'sub'), { root: join(root, 'etc') })).rejects.toMatchObject({
      code: 'TB_PATH_ESCAPE',
    });
  });
});
