import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import { mkdir, writeFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../support/tmp.js';
import { resolveUser, resolveChown } from '../../src/exec/user.js';
import { isTbuildError } from '../../src/errors.js';

describe('resolveUser / resolveChown', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let rootfs: string;

  beforeAll(async () => {
    tmp = await tempDir('tbu-');
    rootfs = join(tmp.path, 'r');
    await mkdir(join(rootfs, 'real'), { recursive: true });
    // /etc is a symlink with an absolute target: it must resolve inside the rootfs, not on the host
    await symlink('/real', join(rootfs, 'etc'));
    await writeFile(join(rootfs, 'real/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:App:/home/app:/bin/sh\n# comment\nbad line\n');
    await writeFile(join(rootfs, 'real/group'), 'root:x:0:\nwheel:x:10:root,app\napp:x:1001:\ndev:x:2000:app\n');
  });
  afterAll(() => tmp.cleanup());

  test('empty user is root with root’s groups and home', async () => {
    expect(await resolveUser(rootfs, '')).toEqual({ uid: 0, gid: 0, additionalGids: [0, 10], home: '/root', name: 'root' });
  });

  test('name, uid, name:group, uid:gid, name:gid', async () => {
    expect(await resolveUser(rootfs, 'app')).toEqual({ uid: 1000, gid: 1001, additionalGids: [1001, 10, 2000], home: '/home/app', name: 'app' });
    expect(await resolveUser(rootfs, '1000')).toMatchObject({ uid: 1000, gid: 1001, home: '/home/app' });
    expect(await resolveUser(rootfs, 'app:dev')).toMatchObject({ uid: 1000, gid: 2000, additionalGids: [2000] });
    expect(await resolveUser(rootfs, '5:6')).toEqual({ uid: 5, gid: 6, additionalGids: [6], home: '/' });
    expect(await resolveUser(rootfs, 'app:77')).toMatchObject({ uid: 1000, gid: 77 });
    expect(await resolveUser(rootfs, '4242')).toEqual({ uid: 4242, gid: 0, additionalGids: [0], home: '/' });
  });

  test('unknown names are TB_USER_UNKNOWN', async () => {
    const e = await resolveUser(rootfs, 'nobody2').catch((x: unknown) => x);
    expect(isTbuildError(e, 'TB_USER_UNKNOWN')).toBe(true);
    expect((e as Error).message).toBe('unable to find user nobody2: no matching entries in passwd file');
    await expect(resolveUser(rootfs, 'app:nogroup')).rejects.toThrow('unable to find group nogroup: no matching entries in group file');
    await expect(resolveUser(join(tmp.path, 'nothing'), 'x')).rejects.toThrow('unable to find user x');
  });

  test('chown: names take passwd ids, bare uid doubles as gid', async () => {
    expect(await resolveChown(rootfs, 'app')).toEqual({ uid: 1000, gid: 1001 });
    expect(await resolveChown(rootfs, '33')).toEqual({ uid: 33, gid: 33 });
    expect(await resolveChown(rootfs, 'app:wheel')).toEqual({ uid: 1000, gid: 10 });
    expect(await resolveChown(rootfs, '1:2')).toEqual({ uid: 1, gid: 2 });
    await expect(resolveChown(rootfs, 'ghost')).rejects.toThrow('unable to find user ghost');
  });
});
