import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isRoot, mountsUnder, tempDir } from '../support/tmp.js';
import { BUSYBOX_TAR } from '../support/cli.js';
import { hasDocker } from './support/docker.js';
import { startChildDaemon, type ChildDaemon } from './support/child-daemon.js';

/** `until` and `label` filters of the list and prune endpoints, and `docker import --platform`. */
describe.runIf(hasDocker && isRoot)('prune and list filters (Docker CLI)', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let d: ChildDaemon;
  let rootfsTar: string;

  beforeAll(async () => {
    tmp = await tempDir('tb-prunef-');
    d = await startChildDaemon(tmp.path);
    const dir = join(tmp.path, 'rootfs');
    await mkdir(dir);
    await writeFile(join(dir, 'f'), 'x');
    rootfsTar = join(tmp.path, 'rootfs.tar');
    execFileSync('tar', ['-cf', rootfsTar, '-C', dir, 'f']);
  }, 60_000);

  afterAll(async () => {
    if (d) {
      const ids = (await d.docker(['ps', '-aq'])).stdout.trim().split('\n').filter(Boolean);
      if (ids.length) await d.docker(['rm', '-f', ...ids]);
      expect(await d.stop()).toBe(0);
    }
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  });

  test('images: until lists and prunes only images made before then', async () => {
    // busybox:local's config says 2023; the import is made now
    expect((await d.docker(['load', '-i', BUSYBOX_TAR])).code).toBe(0);
    expect((await d.docker(['import', rootfsTar, 'fresh:1'])).code).toBe(0);
    const listed = await d.docker(['images', '--filter', 'until=1h', '--format', '{{.Repository}}:{{.Tag}}']);
    expect(listed.stdout.trim().split('\n')).toEqual(['busybox:local']);
    const pruned = await d.docker(['image', 'prune', '-af', '--filter', 'until=1h']);
    expect(pruned.code, pruned.stderr).toBe(0);
    const left = await d.docker(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    expect(left.stdout.trim().split('\n')).toEqual(['fresh:1']);
    const bad = await d.docker(['image', 'prune', '-af', '--filter', 'until=soon']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/invalid filter 'until=soon'/);
    expect((await d.docker(['images', '-q'])).stdout.trim()).not.toBe('');
  }, 120_000);

  test('containers: prune takes label, label! and until, and removes only what they pick', async () => {
    expect((await d.docker(['load', '-i', BUSYBOX_TAR])).code).toBe(0);
    for (const [name, label] of [['pa', 'keep=no'], ['pb', 'keep=yes'], ['pc', 'other=1']]) {
      expect((await d.docker(['create', '--name', name, '--label', label, 'busybox:local', 'true'])).code).toBe(0);
    }
    const names = async () => (await d.docker(['ps', '-a', '--format', '{{.Names}}'])).stdout.trim().split('\n').filter(Boolean).sort();
    // made just now: nothing is older than an hour
    expect((await d.docker(['container', 'prune', '-f', '--filter', 'until=1h'])).code).toBe(0);
    expect(await names()).toEqual(['pa', 'pb', 'pc']);
    expect((await d.docker(['container', 'prune', '-f', '--filter', 'label=keep=no'])).code).toBe(0);
    expect(await names()).toEqual(['pb', 'pc']);
    expect((await d.docker(['container', 'prune', '-f', '--filter', 'label!=keep'])).code).toBe(0);
    expect(await names()).toEqual(['pb']);
    const bad = await d.docker(['container', 'prune', '-f', '--filter', 'bogus=1']);
    expect(bad.code).not.toBe(0);
    expect(await names()).toEqual(['pb']);
  }, 120_000);

  test('import --platform makes an image for that platform', async () => {
    expect((await d.docker(['import', '--platform', 'linux/arm64', rootfsTar, 'imp:arm'])).code).toBe(0);
    expect((await d.docker(['inspect', '-f', '{{.Os}}/{{.Architecture}}', 'imp:arm'])).stdout.trim()).toBe('linux/arm64');
  }, 60_000);
});
