import { describe, expect, test } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isRoot } from '../support/tmp.js';
import { hasDocker } from './support/docker.js';
import { busyboxDaemon } from './support/busybox-daemon.js';
import { request } from './support/raw.js';

const json = { 'Content-Type': 'application/json' };

/** Engine API parameters SDKs and the Docker CLI send: carried out, or refused by name. */
describe.runIf(hasDocker && isRoot)('Engine API parameters (Docker CLI, raw requests)', () => {
  const d = busyboxDaemon('tb-apiparams-');

  test('stats with docker-py\'s stream=False&one-shot=True answers once; ps -l counts stopped containers; inspect -s has sizes', async () => {
    expect((await d.docker(['run', '-d', '--name', 'p1', 'busybox:local', 'sleep', '300'])).code).toBe(0);
    const stats = await request(d.socket, 'GET', '/v1.47/containers/p1/stats?stream=False&one-shot=True');
    expect(stats.status).toBe(200);
    expect(stats.json<{ name: string }>().name).toBe('/p1');
    expect((await d.docker(['run', '--name', 'p2', 'busybox:local', 'true'])).code).toBe(0);
    expect((await d.docker(['ps', '-l', '--format', '{{.Names}}'])).stdout.trim()).toBe('p2');
    const sized = await d.docker(['inspect', '-s', '-f', '{{.SizeRootFs}}', 'p1']);
    expect(Number(sized.stdout.trim())).toBeGreaterThan(1_000_000);
  }, 60_000);

  test('attach logs=1 replays what the container wrote; without stream=1 that is all', async () => {
    expect((await d.docker(['run', '--name', 'said', 'busybox:local', 'echo', 'hello-again'])).code).toBe(0);
    const r = await request(d.socket, 'POST', '/v1.47/containers/said/attach?logs=1&stream=0&stdout=1&stderr=1');
    expect(r.status).toBe(200);
    // one stdout frame: 8-byte header, then the line
    expect(r.body[0]).toBe(1);
    expect(r.body.subarray(8).toString()).toBe('hello-again\n');
  }, 60_000);

  test('docker cp keeps a directory from being replaced by a file (noOverwriteDirNonDir)', async () => {
    expect((await d.docker(['run', '-d', '--name', 'cpd', 'busybox:local', 'sh', '-c', 'mkdir -p /x/d && sleep 300'])).code).toBe(0);
    await new Promise((r) => setTimeout(r, 500));
    const src = join(d.dir, 'src');
    await mkdir(src);
    await writeFile(join(src, 'd'), 'a file');
    const r = await d.docker(['cp', join(src, 'd'), 'cpd:/x/']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/cannot overwrite directory "d" with non-directory/);
    expect((await d.docker(['exec', 'cpd', 'test', '-d', '/x/d'])).code).toBe(0);
  }, 60_000);

  test('what is not carried out is refused by name', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', 'vopt'], /volume driver options are not supported: (type, device|device, type)/],
      [['network', 'create', '--ipam-opt', 'foo=bar', 'tbuild-ipamopt'], /IPAM options are not supported: foo/],
      [['push', '--platform', 'linux/arm64', 'busybox:local'], /has no image for linux\/arm64 \(it is linux\/amd64\)/],
    ];
    for (const [args, message] of cases) {
      const r = await d.docker(args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
    expect((await d.docker(['network', 'connect', '--ip6', 'fd00::5', 'bridge', 'p1'])).stderr).toMatch(/EndpointConfig.IPAMConfig.IPv6Address \(--ip6\) is not supported/);
    const raw: Array<[string, string, unknown, RegExp]> = [
      ['POST', '/v1.47/containers/create', { Image: 'busybox:local', HostConfig: { RestartPolicy: { Name: 'always', MaximumRetryCount: 3 } } }, /maximum retry count can only be used with 'on-failure'/],
      ['POST', '/v1.47/containers/create', { Image: 'busybox:local', HostConfig: { NanoCpus: 1e9, CpuPeriod: 50000 } }, /Nano CPUs and CPU Period cannot both be set/],
      ['POST', '/v1.47/commit?container=p1', { Env: ['A=1'] }, /a container config in the commit body is not supported \(Env\)/],
      ['GET', '/v1.47/system/df?type=bogus', undefined, /invalid type: bogus/],
    ];
    for (const [method, path, body, message] of raw) {
      const r = await request(d.socket, method, path, body === undefined ? undefined : JSON.stringify(body), json);
      expect(r.status, path).toBe(400);
      expect(r.json<{ message: string }>().message, path).toMatch(message);
    }
    expect((await request(d.socket, 'GET', '/v1.47/networks/bridge?scope=swarm')).status).toBe(404);
    const df = await request(d.socket, 'GET', '/v1.47/system/df?type=image');
    const kinds = df.json<{ Images: unknown[] | null; Containers: unknown[] | null; Volumes: unknown }>();
    expect(kinds.Images?.length).toBeGreaterThan(0);
    expect(kinds.Containers).toBeNull();
    expect(kinds.Volumes).toBeNull();
  }, 60_000);
});
