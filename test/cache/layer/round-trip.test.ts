import { test, expect, beforeEach, afterEach } from 'vitest';
import { mkdir, writeFile, symlink, link, chmod, chown, lstat, readlink, readFile, utimes, readdir } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { tempDir } from '../../support/tmp.js';
import { collect, listTar } from './tar-helpers.js';
import { layerConverter } from '../../../src/cache/layer/index.js';
import { applyFsOps, scanXattrs, xattrOp, S_IFCHR } from '../../../src/cache/fsops.js';
import { sha256 } from '../../../src/util/digest.js';

let t: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  t = await tempDir('tbl-');
});
afterEach(async () => {
  await t.cleanup();
});

/** An upperdir with every kind of entry a layer can hold. */
async function buildTree(dir: string): Promise<void> {
  await mkdir(join(dir, 'etc/empty'), { recursive: true });
  await mkdir(join(dir, 'opaque/keep'), { recursive: true });
  await writeFile(join(dir, 'etc/hosts'), '127.0.0.1 localhost\n');
  await writeFile(join(dir, 'big'), Buffer.alloc(3 << 20, 7));
  await writeFile(join(dir, 'hl-a'), 'linked');
  await link(join(dir, 'hl-a'), join(dir, 'hl-b'));
  await symlink('etc/hosts', join(dir, 'rel-link'));
  await symlink('/etc/passwd', join(dir, 'abs-link'));
  await writeFile(join(dir, 'suid'), '#!/bin/sh\n');
  await chmod(join(dir, 'suid'), 0o4755);
  await mkdir(join(dir, 'sgid'));
  await chmod(join(dir, 'sgid'), 0o2775);
  await mkdir(join(dir, 'sticky'));
  await chmod(join(dir, 'sticky'), 0o1777);
  await writeFile(join(dir, 'owned'), 'mine');
  await chown(join(dir, 'owned'), 1000, 1001);
  const long = 'd'.repeat(90) + '/' + 'n'.repeat(120);
  await mkdir(join(dir, 'd'.repeat(90)));
  await writeFile(join(dir, long), 'long name');
  await writeFile(join(dir, 'ünïcødé'), 'utf8');
  await applyFsOps(dir, [
    { t: 'mknod', p: join(dir, 'deleted'), mode: S_IFCHR, major: 0, minor: 0 },
    { t: 'mknod', p: join(dir, 'etc/gone'), mode: S_IFCHR, major: 0, minor: 0 },
    { t: 'mknod', p: join(dir, 'pipe'), mode: 0o010644, major: 0, minor: 0 },
    xattrOp(join(dir, 'opaque'), 'trusted.overlay.opaque', 'y'),
    xattrOp(join(dir, 'etc/hosts'), 'user.note', 'hello'),
    xattrOp(join(dir, 'sgid'), 'user.dir', 'x'),
    xattrOp(join(dir, 'big'), 'user.bin', Buffer.from(Array.from({ length: 256 }, (_, i) => i))),
  ]);
  const when = new Date(1_700_000_000_000);
  for (const p of ['etc/hosts', 'big', 'suid', 'owned', 'etc', 'opaque', '']) await utimes(join(dir, p), when, when);
}

test('dir → tar → applyTar → dir → tar gives the same diffID, and everything survives', async () => {
  const src = join(t.path, 'src');
  const dst = join(t.path, 'dst');
  await buildTree(src);
  const d1 = await layerConverter.describeDir(src);
  const bytes = await collect(layerConverter.tarFromDir(src));
  expect(sha256(bytes)).toBe(d1.diffId);
  expect(bytes.length).toBe(d1.size);
  // deterministic: same tree, same bytes
  expect((await layerConverter.describeDir(src)).diffId).toBe(d1.diffId);

  const applied = await layerConverter.applyTar(Readable.from([bytes]), dst);
  expect(applied).toEqual(d1);
  const d2 = await layerConverter.describeDir(dst);
  expect(d2).toEqual(d1);

  const wh = await lstat(join(dst, 'deleted'));
  expect(wh.isCharacterDevice() && wh.rdev === 0).toBe(true);
  expect((await lstat(join(dst, 'etc/gone'))).isCharacterDevice()).toBe(true);
  const xs = await scanXattrs(dst);
  expect(xs.get('opaque')?.get('trusted.overlay.opaque')?.toString()).toBe('y');
  expect(xs.get('etc/hosts')?.get('user.note')?.toString()).toBe('hello');
  expect(xs.get('sgid')?.get('user.dir')?.toString()).toBe('x');
  expect(xs.get('big')?.get('user.bin')?.equals(Buffer.from(Array.from({ length: 256 }, (_, i) => i)))).toBe(true);
  const a = await lstat(join(dst, 'hl-a'));
  const b = await lstat(join(dst, 'hl-b'));
  expect(a.ino).toBe(b.ino);
  expect(await readlink(join(dst, 'rel-link'))).toBe('etc/hosts');
  expect(await readlink(join(dst, 'abs-link'))).toBe('/etc/passwd');
  expect((await lstat(join(dst, 'suid'))).mode & 0o7777).toBe(0o4755);
  expect((await lstat(join(dst, 'sgid'))).mode & 0o7777).toBe(0o2775);
  expect((await lstat(join(dst, 'sticky'))).mode & 0o7777).toBe(0o1777);
  const owned = await lstat(join(dst, 'owned'));
  expect([owned.uid, owned.gid]).toEqual([1000, 1001]);
  expect((await lstat(join(dst, 'etc/empty'))).isDirectory()).toBe(true);
  expect(await readdir(join(dst, 'etc/empty'))).toEqual([]);
  expect((await lstat(join(dst, 'pipe'))).isFIFO()).toBe(true);
  expect(await readFile(join(dst, 'd'.repeat(90), 'n'.repeat(120)), 'utf8')).toBe('long name');
  expect(await readFile(join(dst, 'ünïcødé'), 'utf8')).toBe('utf8');
  expect((await readFile(join(dst, 'big'))).equals(Buffer.alloc(3 << 20, 7))).toBe(true);
  expect((await lstat(join(dst, 'etc/hosts'))).mtimeMs).toBe(1_700_000_000_000);
});

test('the tar is sorted, normalized, with whiteouts and opaque markers as .wh. entries', async () => {
  const src = join(t.path, 'src');
  await buildTree(src);
  const headers = await listTar(await collect(layerConverter.tarFromDir(src)));
  const names = headers.map((h) => h.name);
  expect(names).toContain('.wh.deleted');
  expect(names).toContain('etc/.wh.gone');
  expect(names.indexOf('opaque/.wh..wh..opq')).toBe(names.indexOf('opaque/') + 1);
  expect(names).not.toContain('deleted');
  for (const h of headers) {
    expect(h.uname).toBe('');
    expect(h.gname).toBe('');
    expect(h.name.startsWith('/') || h.name.startsWith('./')).toBe(false);
  }
  // parents come before children
  for (const [i, n] of names.entries()) {
    const parent = n.replace(/\/$/, '').split('/').slice(0, -1).join('/');
    if (parent) expect(names.indexOf(parent + '/')).toBeLessThan(i);
  }
  const link = headers.find((h) => h.type === 'link');
  expect(link).toMatchObject({ name: 'hl-b', linkname: 'hl-a' });
  const hosts = headers.find((h) => h.name === 'etc/hosts');
  expect((hosts?.pax as Record<string, string>)['SCHILY.xattr.user.note']).toBe('hello');
  expect(Object.keys((headers.find((h) => h.name === 'opaque/')?.pax as object) ?? {})).not.toContain(
    'SCHILY.xattr.trusted.overlay.opaque',
  );
});

test('SOURCE_DATE_EPOCH clamps mtimes and changes the digest only through them', async () => {
  const src = join(t.path, 'src');
  await buildTree(src);
  const epoch = 1_000_000_000;
  const d = await layerConverter.describeDir(src, { sourceDateEpoch: epoch });
  expect(d.diffId).not.toBe((await layerConverter.describeDir(src)).diffId);
  const headers = await listTar(await collect(layerConverter.tarFromDir(src, { sourceDateEpoch: epoch })));
  for (const h of headers) expect(h.mtime.getTime()).toBeLessThanOrEqual(epoch * 1000);
});

test('applyTar accepts gzip, zstd, bzip2 and xz by magic bytes and reports the uncompressed diffID', async () => {
  const src = join(t.path, 'src');
  await mkdir(src);
  await writeFile(join(src, 'f'), 'compressed content '.repeat(1000));
  const plain = await collect(layerConverter.tarFromDir(src));
  const want = sha256(plain);
  const variants: Record<string, Buffer> = {
    gzip: gzipSync(plain),
    zstd: execFileSync('zstd', ['-c', '-q'], { input: plain }),
    bzip2: execFileSync('bzip2', ['-c'], { input: plain }),
    xz: execFileSync('xz', ['-c'], { input: plain }),
  };
  for (const [name, data] of Object.entries(variants)) {
    const dst = join(t.path, `dst-${name}`);
    const chunks = [data.subarray(0, 3), data.subarray(3, 100), data.subarray(100)];
    const d = await layerConverter.applyTar(Readable.from(chunks), dst);
    expect(d.diffId, name).toBe(want);
    expect(d.size).toBe(plain.length);
    expect(await readFile(join(dst, 'f'), 'utf8')).toBe('compressed content '.repeat(1000));
  }
});

test('a corrupt stream fails with TB_TAR_FORMAT', async () => {
  const bad = Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.alloc(100, 1)]);
  await expect(layerConverter.applyTar(Readable.from([bad]), join(t.path, 'x'))).rejects.toMatchObject({ code: 'TB_TAR_FORMAT' });
  const zbad = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(100, 1)]);
  await expect(layerConverter.applyTar(Readable.from([zbad]), join(t.path, 'y'))).rejects.toMatchObject({ code: 'TB_TAR_FORMAT' });
});

test('archives written by GNU tar (gnu and posix formats) extract the same', async () => {
  const src = join(t.path, 'src');
  const deep = join(src, 'a'.repeat(60), 'b'.repeat(60));
  await mkdir(deep, { recursive: true });
  await writeFile(join(deep, 'c'.repeat(120)), 'deep');
  await symlink('x'.repeat(150), join(src, 'longlink'));
  await applyFsOps(src, [xattrOp(join(src, 'longlink'), 'trusted.note', 'n')]);
  for (const format of ['gnu', 'posix']) {
    const data = execFileSync('tar', [`--format=${format}`, '--xattrs', '--xattrs-include=*', '-C', src, '-cf', '-', '.']);
    const dst = join(t.path, `dst-${format}`);
    const d = await layerConverter.applyTar(Readable.from([data]), dst);
    expect(d.diffId).toBe(sha256(data));
    expect(await readFile(join(dst, 'a'.repeat(60), 'b'.repeat(60), 'c'.repeat(120)), 'utf8')).toBe('deep');
    expect(await readlink(join(dst, 'longlink'))).toBe('x'.repeat(150));
  }
});

test('damaged archives are TB_TAR_FORMAT and trailing bytes still count in the diffID', async () => {
  const src = join(t.path, 'src');
  await mkdir(src);
  await writeFile(join(src, 'f'), 'data');
  const good = await collect(layerConverter.tarFromDir(src));
  const bad = Buffer.from(good);
  bad[0] = bad[0]! ^ 0xff; // breaks the header checksum
  await expect(layerConverter.applyTar(Readable.from([bad]), join(t.path, 'bad'))).rejects.toMatchObject({ code: 'TB_TAR_FORMAT' });
  const truncated = good.subarray(0, 512 + 2);
  await expect(layerConverter.applyTar(Readable.from([truncated]), join(t.path, 'tr'))).rejects.toMatchObject({ code: 'TB_TAR_FORMAT' });
  const padded = Buffer.concat([good, Buffer.alloc(10240 - (good.length % 10240))]);
  const d = await layerConverter.applyTar(Readable.from([padded]), join(t.path, 'padded'));
  expect(d).toEqual({ diffId: sha256(padded), size: padded.length });
});

test('a consumer that stops reading early leaves no file descriptors open', async () => {
  const src = join(t.path, 'src');
  await mkdir(src);
  await writeFile(join(src, 'big'), Buffer.alloc(8 << 20, 1));
  const fds = async () => (await readdir('/proc/self/fd')).length;
  const before = await fds();
  for (let i = 0; i < 5; i++) {
    const s = layerConverter.tarFromDir(src);
    let n = 0;
    for await (const _ of s) if (++n === 2) break; // inside the file's data: its fd is open
  }
  // closing is asynchronous: give the descriptors a moment (a loaded machine needs more than 50 ms)
  for (let i = 0; i < 40 && (await fds()) > before; i++) await new Promise((r) => setTimeout(r, 50));
  expect(await fds()).toBeLessThanOrEqual(before);
});
