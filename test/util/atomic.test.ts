import { afterEach, describe, expect, test } from 'vitest';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { writeFileAtomic, writeJsonAtomic, writeStreamAtomic } from '../../src/util/atomic.js';
import { tempDir } from '../support/tmp.js';

let dir: Awaited<ReturnType<typeof tempDir>> | undefined;
afterEach(async () => {
  await dir?.cleanup();
  dir = undefined;
});

describe('atomic writes', () => {
  test('writeStreamAtomic writes every chunk, creates parents, replaces the old file, leaves no temp', async () => {
    dir = await tempDir();
    const dest = join(dir.path, 'out', 'image.tar');
    await writeStreamAtomic(dest, Readable.from([Buffer.from('old')]));
    await writeStreamAtomic(dest, Readable.from([Buffer.from('a'), Buffer.from('b'.repeat(100_000)), Buffer.from('c')]));
    const got = await readFile(dest, 'utf8');
    expect(got.length).toBe(100_002);
    expect(got.startsWith('ab') && got.endsWith('bc')).toBe(true);
    expect((await stat(dest)).mode & 0o777).toBe(0o644);
    expect(await readdir(join(dir.path, 'out'))).toEqual(['image.tar']);
  });

  test('a failing stream leaves the old file as it was and no temp file', async () => {
    dir = await tempDir();
    const dest = join(dir.path, 'image.tar');
    await writeFile(dest, 'previous');
    async function* failing(): AsyncGenerator<Buffer> {
      yield Buffer.from('partial');
      throw new Error('source broke');
    }
    await expect(writeStreamAtomic(dest, Readable.from(failing()))).rejects.toThrow('source broke');
    expect(await readFile(dest, 'utf8')).toBe('previous');
    expect(await readdir(dir.path)).toEqual(['image.tar']);
  });

  test('writeFileAtomic and writeJsonAtomic replace the file whole', async () => {
    dir = await tempDir();
    const f = join(dir.path, 'a.json');
    await writeFileAtomic(f, 'x');
    await writeJsonAtomic(f, { k: [1, 2] });
    expect(JSON.parse(await readFile(f, 'utf8'))).toEqual({ k: [1, 2] });
    expect(await readdir(dir.path)).toEqual(['a.json']);
  });
});
