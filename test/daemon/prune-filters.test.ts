import { beforeAll, describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isRoot } from '../support/tmp.js';
import { BUSYBOX_TAR } from '../support/cli.js';
import { hasDocker } from './support/docker.js';
import { busyboxDaemon } from './support/busybox-daemon.js';

/** `until` and `label` filters of the list and prune endpoints, and `docker import --platform`. */
describe.runIf(hasDocker && isRoot)('prune and list filters (Docker CLI)', () => {
  const d = busyboxDaemon('tb-prunef-');
  let rootfsTar: string;

  beforeAll(async () => {
    const dir = join(d.dir, 'rootfs');
    await mkdir(dir);
    await writeFile(join(dir, 'f'), 'x');
    rootfsTar = join(d.dir, 'rootfs.tar');
    execFileSync('tar', ['-cf', rootfsTar, '-C', dir, 'f']);
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
    expect((await d.docker(['rm', 'pb'])).code).toBe(0);
  }, 120_000);

  test('ps filters: before, since, network, volume, publish, expose, health, is-task', async () => {
    expect((await d.docker(['load', '-i', BUSYBOX_TAR])).code).toBe(0);
    const run = async (args: string[]) => {
      const r = await d.docker(['run', '-d', ...args, 'busybox:local', 'sleep', '300']);
      expect(r.code, r.stderr).toBe(0);
    };
    await run(['--name', 'f1', '--network', 'none', '-v', 'tbuild-pf-vol:/data']);
    await new Promise((r) => setTimeout(r, 50));
    await run(['--name', 'f2', '-p', '127.0.0.1:18391:80', '--expose', '9000']);
    await new Promise((r) => setTimeout(r, 50));
    await run(['--name', 'f3', '--network', 'none', '--health-cmd', 'true', '--health-interval', '1h']);
    const ps = async (filter: string) => (await d.docker(['ps', '-a', '--filter', filter, '--format', '{{.Names}}'])).stdout.trim().split('\n').filter(Boolean).sort();
    expect(await ps('before=f2')).toEqual(['f1']);
    expect(await ps('since=f2')).toEqual(['f3']);
    expect(await ps('network=none')).toEqual(['f1', 'f3']);
    expect(await ps('network=bridge')).toEqual(['f2']);
    expect(await ps('volume=tbuild-pf-vol')).toEqual(['f1']);
    expect(await ps('volume=/data')).toEqual(['f1']);
    expect(await ps('publish=18391')).toEqual(['f2']);
    expect(await ps('publish=18391/udp')).toEqual([]);
    expect(await ps('expose=9000')).toEqual(['f2']);
    expect(await ps('expose=8990-9010/tcp')).toEqual(['f2']);
    expect(await ps('health=none')).toEqual(['f1', 'f2']);
    expect(await ps('health=starting')).toEqual(['f3']);
    expect(await ps('is-task=true')).toEqual([]);
    expect(await ps('is-task=false')).toEqual(['f1', 'f2', 'f3']);
    const bad = await d.docker(['ps', '--filter', 'health=bogus']);
    expect(bad.stderr).toMatch(/invalid filter 'health=bogus'/);
    expect((await d.docker(['rm', '-f', '-v', 'f1', 'f2', 'f3'])).code).toBe(0);
    await d.docker(['volume', 'rm', 'tbuild-pf-vol']);
  }, 120_000);

  test('import --platform makes an image for that platform', async () => {
    expect((await d.docker(['import', '--platform', 'linux/arm64', rootfsTar, 'imp:arm'])).code).toBe(0);
    expect((await d.docker(['inspect', '-f', '{{.Os}}/{{.Architecture}}', 'imp:arm'])).stdout.trim()).toBe('linux/arm64');
  }, 60_000);
});
