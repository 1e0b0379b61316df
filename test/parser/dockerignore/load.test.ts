import { afterEach, expect, test } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../../support/tmp.js';
import { loadDockerignore } from '../../../src/parser/dockerignore.js';
import { isTbuildError } from '../../../src/errors.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
async function ctx(): Promise<string> {
  const t = await tempDir('tb-di-');
  cleanups.push(t.cleanup);
  return t.path;
}

test('no ignore file gives no patterns', async () => {
  const dir = await ctx();
  expect(await loadDockerignore(dir)).toEqual([]);
  expect(await loadDockerignore(dir, join(dir, 'Dockerfile'))).toEqual([]);
});

test('context .dockerignore is read', async () => {
  const dir = await ctx();
  await writeFile(join(dir, '.dockerignore'), '# c\n/node_modules/\n!keep\n');
  expect(await loadDockerignore(dir, join(dir, 'Dockerfile'))).toEqual(['node_modules', '!keep']);
});

test('<Dockerfile>.dockerignore next to the Dockerfile takes precedence', async () => {
  const dir = await ctx();
  await mkdir(join(dir, 'build'));
  await writeFile(join(dir, '.dockerignore'), 'from-context\n');
  await writeFile(join(dir, 'build', 'app.Dockerfile.dockerignore'), 'from-dockerfile\n');
  expect(await loadDockerignore(dir, join(dir, 'build', 'app.Dockerfile'))).toEqual(['from-dockerfile']);
  // another Dockerfile in the same directory falls back to the context's file
  expect(await loadDockerignore(dir, join(dir, 'build', 'Dockerfile'))).toEqual(['from-context']);
  expect(await loadDockerignore(dir)).toEqual(['from-context']);
});

test('an unreadable ignore file is a coded error', async () => {
  const dir = await ctx();
  await mkdir(join(dir, '.dockerignore'));
  await expect(loadDockerignore(dir)).rejects.toSatisfy((e: unknown) => isTbuildError(e, 'TB_DOCKERIGNORE'));
});
