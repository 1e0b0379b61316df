import { afterEach, expect, test } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { DirStatCache, hashFileContent } from '../../src/session/stat-cache.js';
import { tempDir } from '../support/tmp.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

test('content hashes are right at every size around the small-file path', async () => {
  const t = await tempDir('tb-sc-');
  cleanups.push(t.cleanup);
  for (const n of [0, 1, 511, 65535, 65536, 65537, 1 << 20, (1 << 20) + 3]) {
    const buf = randomBytes(n);
    const p = join(t.path, `f${n}`);
    await writeFile(p, buf);
    expect(await hashFileContent(p, BigInt(n))).toBe(sha(buf));
  }
});

test('a file that grew after it was stat-ed is hashed whole, as read', async () => {
  const t = await tempDir('tb-sc-');
  cleanups.push(t.cleanup);
  const p = join(t.path, 'f');
  await writeFile(p, 'short');
  const size = (await lstat(p, { bigint: true })).size;
  const grown = Buffer.from('short, and then much longer than it was'.repeat(3000));
  await writeFile(p, grown);
  expect(await hashFileContent(p, size)).toBe(sha(grown));
});

test('the cache file is written whole, with no temp file left beside it', async () => {
  const t = await tempDir('tb-sc-');
  cleanups.push(t.cleanup);
  const ctx = join(t.path, 'ctx');
  const file = join(t.path, 'state/cache/stat/x.json');
  await mkdir(ctx);
  await writeFile(join(ctx, 'a'), 'aaa');
  await sleep(200); // past the racy window: only then is a hash remembered
  const st = await lstat(join(ctx, 'a'), { bigint: true });
  const c = await DirStatCache.open(ctx, file);
  await c.hashFile(join(ctx, 'a'), st);
  await c.save();
  expect(await readdir(join(t.path, 'state/cache/stat'))).toEqual(['x.json']);
  const saved = JSON.parse(await readFile(file, 'utf8')) as { entries: Record<string, string[]> };
  expect(saved.entries['a']?.[4]).toBe(sha(Buffer.from('aaa')));
  const again = await DirStatCache.open(ctx, file);
  expect(await again.hashFile(join(ctx, 'a'), st)).toBe(sha(Buffer.from('aaa')));
  expect(again.stats).toEqual({ hits: 1, misses: 0 });
});
