import { afterEach, expect, test } from 'vitest';
import { lstat, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { copyFiles } from '../../../src/worker/file/copy.js';
import { withMounts } from '../../../src/util/mount.js';
import { makeContext, writeTree } from '../../support/context.js';
import { mountsUnder, tempDir } from '../../support/tmp.js';
import { listTree, text } from './helpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

// The FileOp writes through an overlay mount of the target snapshot: the upperdir must end up
// holding exactly the layer's diff, and the lower layer must never change.
test('COPY through an overlay mount: the upperdir holds only the diff (needs root)', async () => {
  const ctx = await makeContext({ 't/added': 'added\n', 't/replace': 'new\n', 'link/f': 'via link\n' });
  const t = await tempDir('tb-ovl-');
  cleanups.push(ctx.cleanup, t.cleanup);
  const [lower, upper, work, merged] = ['l', 'u', 'w', 'm'].map((d) => join(t.path, d)) as [string, string, string, string];
  for (const d of [lower, upper, work, merged]) await mkdir(d);
  await writeTree(lower, { 't/keep': 'old\n', 't/replace': 'old\n', 'real/x': 'x\n', 'etc/passwd': 'root:x:0:0::/:/bin/sh\n' });
  await writeTree(lower, { ln: { symlink: '/real' } });

  await withMounts(
    [{ type: 'overlay', source: 'overlay', options: [`lowerdir=${lower}`, `upperdir=${upper}`, `workdir=${work}`] }],
    merged,
    async (root) => {
      await copyFiles({ srcRoot: ctx.dir, ignore: { matches: () => false, canSkipDir: () => false }, sources: ['t'], dest: '/t/', destRoot: root });
      await copyFiles({ srcRoot: ctx.dir, ignore: { matches: () => false, canSkipDir: () => false }, sources: ['link/f'], dest: '/ln/', destRoot: root });
      expect(await listTree(join(root, 't'))).toEqual(['added', 'keep', 'replace']);
      expect(await text(join(root, 't/replace'))).toBe('new\n');
    },
  );
  expect(await mountsUnder(t.path)).toEqual([]);
  expect(await text(join(lower, 't/replace'))).toBe('old\n');
  expect((await readdir(lower)).sort()).toEqual(['etc', 'ln', 'real', 't']);
  // t/keep was not touched, so it is not in the upper layer; the file behind /ln landed in /real.
  expect(await listTree(upper)).toEqual(['real', 'real/f', 't', 't/added', 't/replace']);
  expect((await lstat(join(upper, 't/replace'))).isFile()).toBe(true);
});
