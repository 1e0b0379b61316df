import { test, expect, beforeAll, afterAll } from 'vitest';
import { mkdir, writeFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../support/tmp.js';
import { resolveInRoot, resolveInRootSync, isWithin } from '../../src/util/confine.js';

let t: Awaited<ReturnType<typeof tempDir>>;
let r: string;
beforeAll(async () => {
  t = await tempDir('tbc-');
  r = join(t.path, 'root');
  await mkdir(join(r, 'a/b'), { recursive: true });
  await writeFile(join(r, 'a/b/f'), 'x');
  await symlink('/a', join(r, 'abs')); // absolute: re-rooted
  await symlink('../../../../..', join(r, 'a/up')); // climbs: clamped
  await symlink('b/f', join(r, 'a/rel'));
  await symlink('/', join(r, 'slash'));
  await symlink(t.path, join(r, 'host')); // a host path: re-rooted, not followed out
  await symlink('loop2', join(r, 'loop1'));
  await symlink('loop1', join(r, 'loop2'));
  await symlink('nowhere/deeper', join(r, 'dangling'));
});
afterAll(async () => {
  await t.cleanup();
});

const cases: [string, string][] = [
  ['', ''],
  ['/', ''],
  ['a/b/f', 'a/b/f'],
  ['/a/./b//f', 'a/b/f'],
  ['../../etc/passwd', 'etc/passwd'],
  ['a/../../../a/b', 'a/b'],
  ['abs/b/f', 'a/b/f'],
  ['a/up/etc/shadow', 'etc/shadow'],
  ['a/rel', 'a/b/f'],
  ['slash/etc/passwd', 'etc/passwd'],
  ['host/canary', 'HOST/canary'],
  ['dangling', 'nowhere/deeper'],
  ['missing/../a/b', 'a/b'],
];

test('resolves inside the root, re-rooting absolute links and clamping ..', async () => {
  for (const [input, want] of cases) {
    const expected = want.startsWith('HOST') ? join(r, t.path, want.slice(4)) : want ? join(r, want) : r;
    expect(await resolveInRoot(r, input), input).toBe(expected);
    expect(resolveInRootSync(r, input), input).toBe(expected);
    expect(isWithin(r, expected)).toBe(true);
  }
});

test('followFinal: false names the link itself', async () => {
  expect(await resolveInRoot(r, 'abs', { followFinal: false })).toBe(join(r, 'abs'));
  expect(await resolveInRoot(r, 'abs/b', { followFinal: false })).toBe(join(r, 'a/b'));
  expect(resolveInRootSync(r, 'slash', { followFinal: false })).toBe(join(r, 'slash'));
});

test('a symlink loop is TB_PATH_ESCAPE', async () => {
  await expect(resolveInRoot(r, 'loop1/x')).rejects.toMatchObject({ code: 'TB_PATH_ESCAPE' });
  expect(() => resolveInRootSync(r, 'loop1')).toThrow(expect.objectContaining({ code: 'TB_PATH_ESCAPE' }));
});

test('isWithin is lexical and exact about prefixes', () => {
  expect(isWithin('/a/b', '/a/b/c')).toBe(true);
  expect(isWithin('/a/b', '/a/bc')).toBe(false);
  expect(isWithin('/a/b', '/a/b/../c')).toBe(false);
});
