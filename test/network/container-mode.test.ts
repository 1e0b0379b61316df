import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import { tempDir, isRoot, mountsUnder } from '../support/tmp.js';
import { runCli, BUSYBOX_TAR } from '../support/cli.js';
import { uniqueBridge, bridgeEnv, networkLeftovers, leasesOf } from '../support/network.js';
import { processesMentioning } from '../containers/support/engine.js';

describe.runIf(isRoot)('run --network container:CTR shares that container\'s network', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let root: string;
  let b: { bridge: string; subnet: string };
  let env: Record<string, string>;
  const cli = (args: string[]) => runCli(args, { root, env });

  beforeAll(async () => {
    tmp = await tempDir('tbnc-');
    root = join(tmp.path, 'root');
    b = uniqueBridge();
    env = bridgeEnv(b);
    const r = await cli(['load', '-i', BUSYBOX_TAR]);
    expect(r.stderr).toBe('');
  });

  afterAll(async () => {
    await cli(['rm', '-f', 'owner', 'joiner', 'chained', 'isolated']);
    for (let i = 0; i < 100 && (await processesMentioning(root)).length; i++) await new Promise((r) => setTimeout(r, 100));
    expect(networkLeftovers(root, b)).toEqual([]);
    expect(leasesOf(root)).toEqual([]);
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  });

  test('the same address, loopback, hostname and /etc/hosts; inspect lists no network of its own', async () => {
    const owner = await cli(['run', '-d', '--name', 'owner', '--hostname', 'ownerhost', '--add-host', 'extra.test:10.9.8.7', 'busybox:local', 'sh', '-c', 'mkdir /www && echo shared-lo > /www/i && httpd -f -p 127.0.0.1:8080 -h /www']);
    expect(owner.code, owner.stderr).toBe(0);
    const ip = (await cli(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'owner'])).stdout.trim();
    expect(ip.startsWith(b.subnet.replace(/0\/24$/, ''))).toBe(true);
    const script = 'for i in $(seq 50); do wget -q -O- http://127.0.0.1:8080/i && break; sleep 0.1; done; ip -4 -o addr show eth0; hostname; grep extra.test /etc/hosts';
    const joiner = await cli(['run', '--name', 'joiner', '--network', 'container:owner', 'busybox:local', 'sh', '-c', script]);
    expect(joiner.code, joiner.stderr).toBe(0);
    expect(joiner.stdout).toContain('shared-lo');
    expect(joiner.stdout).toContain(`inet ${ip}/`);
    expect(joiner.stdout).toMatch(/^ownerhost$/m);
    expect(joiner.stdout).toContain('10.9.8.7\textra.test');
    const shown = await cli(['inspect', '-f', '{{.HostConfig.NetworkMode}} {{json .NetworkSettings.Networks}}', 'joiner']);
    expect(shown.stdout.trim()).toBe('container:owner {}');
    // joining a container that itself joined one reaches the namespace's owner
    const chained = await cli(['run', '-d', '--name', 'chained', '--network', 'container:owner', 'busybox:local', 'sleep', '600']);
    expect(chained.code, chained.stderr).toBe(0);
    const second = await cli(['run', '--rm', '--network', 'container:chained', 'busybox:local', 'sh', '-c', 'wget -q -O- http://127.0.0.1:8080/i; hostname']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toBe('shared-lo\nownerhost\n');
    // a container that shares a namespace cannot be put on a network of its own
    const connect = await cli(['network', 'connect', 'bridge', 'chained']);
    expect(connect.code).not.toBe(0);
    expect(connect.stderr).toContain('network mode container:owner');
  });

  test('Docker\'s conflicts, an unknown container and a stopped one fail by name and leave nothing', async () => {
    const none = await cli(['run', '-d', '--name', 'isolated', '--network', 'none', 'busybox:local', 'sleep', '600']);
    expect(none.code, none.stderr).toBe(0);
    const links = await cli(['run', '--rm', '--network', 'container:isolated', 'busybox:local', 'sh', '-c', 'ip -o link | wc -l']);
    expect(links.stdout.trim()).toBe('1');
    const cases: Array<[string[], string]> = [
      [['-p', '8080:80'], 'conflicting options: port publishing and the container type network mode'],
      [['-P'], 'conflicting options: port publishing and the container type network mode'],
      [['--hostname', 'x'], 'conflicting options: hostname and the network mode'],
      [['--dns', '10.0.0.1'], 'conflicting options: dns and the network mode'],
      [['--add-host', 'a:10.0.0.1'], 'conflicting options: custom host-to-IP mapping and the network mode'],
      [['--network-alias', 'x'], 'network-scoped aliases are only supported for user-defined networks'],
    ];
    const before = (await cli(['ps', '-aq'])).stdout;
    for (const [flags, message] of cases) {
      const r = await cli(['run', '--rm', '--network', 'container:isolated', ...flags, 'busybox:local', 'true']);
      expect(r.code, flags.join(' ')).not.toBe(0);
      expect(r.stderr).toContain(message);
    }
    const unknown = await cli(['run', '--rm', '--network', 'container:nosuch', 'busybox:local', 'true']);
    expect(unknown.stderr).toContain('No such container: nosuch');
    expect((await cli(['ps', '-aq'])).stdout).toBe(before);
    expect((await cli(['stop', '-t', '0', 'isolated'])).code).toBe(0);
    const stopped = await cli(['run', '--network', 'container:isolated', 'busybox:local', 'true']);
    expect(stopped.code).not.toBe(0);
    expect(stopped.stderr).toContain('cannot join network of a non running container: isolated');
    // Docker keeps such a container (created, never started); it starts once its peer runs
    const left = (await cli(['ps', '-aq', '--filter', 'status=created'])).stdout.trim();
    expect(left).not.toBe('');
    expect((await cli(['start', 'isolated'])).code).toBe(0);
    const started = await cli(['start', '-a', left]);
    expect(started.code, started.stderr).toBe(0);
    expect((await cli(['rm', '-f', left])).code).toBe(0);
  });
});
