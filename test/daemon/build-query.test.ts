import { beforeAll, describe, expect, test } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pack } from 'tar-stream';
import { isRoot } from '../support/tmp.js';
import { hasDocker } from './support/docker.js';
import { busyboxDaemon } from './support/busybox-daemon.js';
import { request } from './support/raw.js';

async function contextTar(dockerfile: string): Promise<Buffer> {
  const p = pack();
  p.entry({ name: 'Dockerfile' }, dockerfile);
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

// the limit files of this container's own cgroup (v1 hierarchies, else v2's unified one)
const READ_LIMITS = [
  'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max',
  'cat /sys/fs/cgroup/cpu,cpuacct/cpu.shares 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.shares 2>/dev/null || cat /sys/fs/cgroup/cpu.weight',
  'cat /sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cut -d" " -f1 /sys/fs/cgroup/cpu.max',
].join('; ');

/** The classic `POST /build` query as the Docker CLI sends it: every parameter carried out or refused by name. */
describe.runIf(hasDocker && isRoot)('POST /build query parameters (Docker CLI, classic builder)', () => {
  const d = busyboxDaemon('tb-bq-');
  let ctx: string;

  beforeAll(async () => {
    ctx = join(d.dir, 'ctx');
    await mkdir(ctx);
    await writeFile(join(ctx, 'Dockerfile'), `FROM busybox:local\nRUN (${READ_LIMITS}) | tr '\\n' ' '\n`);
  });

  test('--memory, --cpu-shares, --cpu-quota and --cpu-period limit every RUN step\'s container', async () => {
    const limited = await d.docker(['build', '--no-cache', '--memory', '64m', '--cpu-shares', '512', '--cpu-quota', '50000', '--cpu-period', '100000', ctx]);
    expect(limited.code, limited.stderr).toBe(0);
    expect(limited.stdout).toMatch(/67108864 (512|\d+) 50000 /);
    const plain = await d.docker(['build', '--no-cache', ctx]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).not.toMatch(/67108864/);
  }, 120_000);

  test('a RUN step over its --memory limit is killed, and the build fails as Docker\'s classic builder reports it', async () => {
    const dir = join(d.dir, 'oom');
    await mkdir(dir);
    // dd fills a 200 MB buffer: over a 32 MB limit the kernel kills it
    await writeFile(join(dir, 'Dockerfile'), 'FROM busybox:local\nRUN dd if=/dev/zero of=/dev/null bs=200M count=1\n');
    const r = await d.docker(['build', '--no-cache', '--memory', '32m', dir]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/returned a non-zero code: 137/);
  }, 120_000);

  test('what tbuild does not carry out is refused by name, with dockerd\'s words where it refuses too', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--cpuset-cpus', '0'], /cpusetcpus \(--cpuset-cpus 0\) is not supported/],
      [['--cpuset-mems', '0'], /cpusetmems \(--cpuset-mems 0\) is not supported/],
      [['--cgroup-parent', 'tbuild-test'], /cgroupparent \(--cgroup-parent tbuild-test\) is not supported/],
      [['--security-opt', 'seccomp=unconfined'], /does not support setting security options on build/],
      [['--isolation', 'hyperv'], /Unsupported isolation: "hyperv"/],
      [['--rm=false'], /rm=0 \(--rm=false\): tbuild keeps no intermediate containers/],
      [['--memory', '1m'], /Minimum memory limit allowed is 6MB/],
      [['--memory', '64m', '--memory-swap', '32m'], /Minimum memoryswap limit should be larger than memory limit/],
      [['--cpu-period', '10'], /CPU cfs period can not be less than 1ms/],
    ];
    for (const [flags, message] of cases) {
      const r = await d.docker(['build', ...flags, ctx]);
      expect(r.code, flags.join(' ')).not.toBe(0);
      expect(r.stderr, flags.join(' ')).toMatch(message);
    }
    const body = await contextTar('FROM busybox:local\n');
    const raw: Array<[string, RegExp]> = [
      ['version=2&session=abc', /builder version "2" through POST \/build/],
      ['session=abc', /session: a build context from a client session/],
      [`outputs=${encodeURIComponent(JSON.stringify([{ Type: 'local', Attrs: { dest: '/tmp/x' } }]))}`, /outputs: exporters through POST \/build are not supported/],
      ['squash=1', /squash is not supported/],
      ['memory=abc', /invalid value for memory: abc/],
      ['memory=1.5', /invalid value for memory: 1.5 \(want a whole number >= 0\)/],
    ];
    for (const [query, message] of raw) {
      const r = await request(d.socket, 'POST', `/v1.47/build?${query}`, body, { 'Content-Type': 'application/x-tar' });
      expect(r.status, query).toBe(400);
      expect(r.json<{ message: string }>().message, query).toMatch(message);
    }
    // the CLI's defaults ("unset" as 0 and empty strings, rm=1, isolation default) are accepted
    const defaults = 'rm=1&forcerm=0&memory=0&memswap=0&cpushares=0&cpuquota=0&cpuperiod=0&cpusetcpus=&cpusetmems=&cgroupparent=&isolation=default&version=1&outputs=%5B%5D';
    const ok = await request(d.socket, 'POST', `/v1.47/build?q=1&${defaults}`, body, { 'Content-Type': 'application/x-tar' });
    expect(ok.status).toBe(200);
    expect(ok.body.toString()).toMatch(/"aux":\{"ID":"sha256:/);
  }, 120_000);

  test('POST /build/cancel?id= stops the build started with that buildid', async () => {
    const body = await contextTar('FROM busybox:local\nRUN sleep 60\n');
    const started = Date.now();
    const build = request(d.socket, 'POST', '/v1.47/build?nocache=1&buildid=tb-cancel-1', body, { 'Content-Type': 'application/x-tar' });
    // the build is running its step when the cancel arrives
    await new Promise((r) => setTimeout(r, 1500));
    const cancel = await request(d.socket, 'POST', '/v1.47/build/cancel?id=tb-cancel-1');
    expect(cancel.status).toBe(200);
    const res = await build;
    expect(res.body.toString()).toMatch(/"error(Detail)?"/);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect((await request(d.socket, 'POST', '/v1.47/build/cancel')).status).toBe(400);
  }, 120_000);
});
