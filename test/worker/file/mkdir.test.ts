import { afterEach, expect, test } from 'vitest';
import { chmod, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { mkdirInRoot } from '../../../src/worker/file/mkdir.js';
import { isTbuildError } from '../../../src/errors.js';
import { writeTree } from '../../support/context.js';
import { tempDir } from '../../support/tmp.js';
import { info } from './helpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function root(): Promise<string> {
  const t = await tempDir('tb-mk-');
  cleanups.push(t.cleanup);
  await writeTree(t.path, {
    'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\napp:x:1500:1600::/home/app:/bin/sh\n',
    'etc/group': 'root:x:0:\napp:x:1600:\n',
    existing: { dir: true, mode: 0o700 },
  });
  return t.path;
}

test('WORKDIR creates the path and its parents, owned by USER', async () => {
  const r = await root();
  await mkdirInRoot({ destRoot: r, path: '/srv/app/data', user: 'app' });
  for (const p of ['srv', 'srv/app', 'srv/app/data']) expect(await info(join(r, p))).toMatchObject({ mode: '0755', uid: 1500, gid: 1600 });
  await mkdirInRoot({ destRoot: r, path: 'rel', workdir: '/srv' });
  expect(await info(join(r, 'srv/rel'))).toMatchObject({ uid: 0, gid: 0, type: 'dir' });
});

test('an existing directory is left as it is', async () => {
  const r = await root();
  await mkdirInRoot({ destRoot: r, path: '/existing', user: 'app' });
  expect(await info(join(r, 'existing'))).toMatchObject({ mode: '0700', uid: 0 });
  await chmod(join(r, 'existing'), 0o700);
});

test('symlinks are followed inside the root; a file in the way is an error', async () => {
  const r = await root();
  await symlink('/existing', join(r, 'link'));
  await symlink('../../../../..', join(r, 'up'));
  await mkdirInRoot({ destRoot: r, path: '/link/sub' });
  await mkdirInRoot({ destRoot: r, path: '/up/inside' });
  expect((await info(join(r, 'existing/sub'))).type).toBe('dir');
  expect((await info(join(r, 'inside'))).type).toBe('dir');
  const err = await mkdirInRoot({ destRoot: r, path: '/etc/passwd/x' }).catch((e) => e);
  expect(isTbuildError(err, 'TB_COPY_DEST_NOT_DIR')).toBe(true);
  const unknown = await mkdirInRoot({ destRoot: r, path: '/x', user: 'ghost' }).catch((e) => e);
  expect(isTbuildError(unknown, 'TB_USER_UNKNOWN')).toBe(true);
});
