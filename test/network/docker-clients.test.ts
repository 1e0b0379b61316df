import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import Docker from 'dockerode';
import { tempDir, isRoot, mountsUnder } from '../support/tmp.js';
import { BUSYBOX_TAR } from '../support/cli.js';
import { uniqueBridge, bridgeEnv, networkLeftovers, leasesOf } from '../support/network.js';
import { processesMentioning } from '../containers/support/engine.js';
import { hasDocker } from '../daemon/support/docker.js';
import { startChildDaemon, type ChildDaemon } from '../daemon/support/child-daemon.js';

/** Shell words that fetch a URL, retrying for up to ~20 s (a loaded machine: servers start late). */
const GET = 'get() { for i in $(seq 60); do timeout 3 wget -q -O- "$1" && return 0; sleep 0.3; done; return 1; };';
const httpd = (text: string) => ['sh', '-c', `mkdir -p /w && echo ${text} > /w/index.html && exec httpd -f -p 80 -h /w`];

async function fetchSoon(url: string): Promise<string> {
  let last: unknown;
  for (let i = 0; i < 150; i++) {
    try {
      return await (await fetch(url, { signal: AbortSignal.timeout(2000) })).text();
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw last;
}

/** The stock Docker CLI and dockerode driving networks, ports and network modes of the real engine. */
describe.runIf(isRoot && hasDocker)('Docker CLI and dockerode: networks, published ports, network modes', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let d: ChildDaemon;
  let api: Docker;
  const b = uniqueBridge();
  const user = uniqueBridge();
  const tag = Math.random().toString(36).slice(2, 7);
  const net = `tbuildnet-${tag}`;
  let userBridge = '';
  const apiNets: Array<{ bridge: string; subnet: string }> = [];

  beforeAll(async () => {
    tmp = await tempDir('tbnd-');
    d = await startChildDaemon(tmp.path, [], bridgeEnv(b));
    expect((await d.docker(['load', '-i', BUSYBOX_TAR])).code).toBe(0);
    api = new Docker({ socketPath: d.socket });
  }, 60_000);

  afterAll(async () => {
    const ids = (await d.docker(['ps', '-aq'])).stdout.trim().split('\n').filter(Boolean);
    if (ids.length) await d.docker(['rm', '-f', ...ids]);
    await d.docker(['network', 'rm', net, `${net}-api`]);
    expect(await d.stop()).toBe(0);
    for (let i = 0; i < 100 && (await processesMentioning(d.root)).length; i++) await new Promise((r) => setTimeout(r, 100));
    expect(networkLeftovers(d.root, b)).toEqual([]);
    if (userBridge) expect(networkLeftovers(d.root, { bridge: userBridge, subnet: user.subnet })).toEqual([]);
    for (const n of apiNets) expect(networkLeftovers(d.root, n)).toEqual([]);
    expect(leasesOf(d.root)).toEqual([]);
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  }, 60_000);

  test('docker network create/ls/inspect/connect/disconnect/rm, names and aliases, events, container: mode', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const created = await d.docker(['network', 'create', '--subnet', user.subnet, '--label', 'team=a', net]);
    expect(created.code, created.stderr).toBe(0);
    userBridge = `tbuild${created.stdout.trim().slice(0, 9)}`;
    const overlap = await d.docker(['network', 'create', '--subnet', user.subnet, `${net}-twin`]);
    expect(overlap.code).not.toBe(0);
    expect(overlap.stderr).toContain('Pool overlaps with other one on this address space');
    const unknown = await d.docker(['run', '--rm', '--network', 'no-such-net', 'busybox:local', 'true']);
    expect(unknown.code).toBe(125);
    expect(unknown.stderr).toContain('network no-such-net not found');
    // a 404 from create would send the CLI off to pull the image
    expect(unknown.stderr).not.toContain('Unable to find image');
    const noPeer = await d.docker(['run', '--rm', '--network', 'container:no-such-ctr', 'busybox:local', 'true']);
    expect(noPeer.stderr).toContain('No such container: no-such-ctr');
    expect(noPeer.stderr).not.toContain('Unable to find image');
    const ls = await d.docker(['network', 'ls', '--format', '{{.Name}} {{.Driver}}']);
    expect(ls.stdout.trim().split('\n')).toEqual(expect.arrayContaining(['bridge bridge', 'host host', 'none null', `${net} bridge`]));
    const shown = await d.docker(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Subnet}} {{.Labels.team}}', net]);
    expect(shown.stdout.trim()).toBe(`${user.subnet} a`);
    expect((await d.docker(['run', '-d', '--name', 'web', '--network', net, '--network-alias', 'svc', 'busybox:local', ...httpd('from-web')])).code).toBe(0);
    const byName = await d.docker(['run', '--rm', '--network', net, 'busybox:local', 'sh', '-c', `${GET} get http://web/; get http://svc/`]);
    expect(byName.stdout).toBe('from-web\nfrom-web\n');
    const shared = await d.docker(['run', '--rm', '--network', 'container:web', 'busybox:local', 'sh', '-c', `${GET} get http://127.0.0.1/`]);
    expect(shared.stdout).toBe('from-web\n');
    const inUse = await d.docker(['network', 'rm', net]);
    expect(inUse.code).not.toBe(0);
    expect(inUse.stderr).toContain('has active endpoints');
    expect((await d.docker(['network', 'connect', 'bridge', 'web'])).code).toBe(0);
    const nets = await d.docker(['inspect', '-f', '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}', 'web']);
    expect(nets.stdout.trim().split(' ').sort()).toEqual(['bridge', net].sort());
    expect((await d.docker(['network', 'disconnect', 'bridge', 'web'])).code).toBe(0);
    // a container started on the default bridge resolves names of a user network once connected to it
    expect((await d.docker(['run', '-d', '--name', 'lone', 'busybox:local', 'sleep', '600'])).code).toBe(0);
    expect((await d.docker(['network', 'connect', net, 'lone'])).code).toBe(0);
    const gateway = (await d.docker(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', net])).stdout.trim();
    const viaConnect = await d.docker(['exec', 'lone', 'sh', '-c', `${GET} get http://svc/; cat /etc/resolv.conf`]);
    expect(viaConnect.stdout).toContain('from-web\n');
    expect(viaConnect.stdout).toContain(`nameserver ${gateway}`);
    expect((await d.docker(['network', 'disconnect', net, 'lone'])).code).toBe(0);
    const after = await d.docker(['exec', 'lone', 'cat', '/etc/resolv.conf']);
    expect(after.stdout).not.toContain(gateway);
    expect(after.stdout).toMatch(/^nameserver \S+$/m);
    expect((await d.docker(['rm', '-f', 'web', 'lone'])).code).toBe(0);
    const removed = await d.docker(['network', 'rm', net]);
    expect(removed.code, removed.stderr).toBe(0);
    const events = await d.docker(['events', '--since', String(since), '--until', String(Math.floor(Date.now() / 1000) + 1), '--filter', 'type=network', '--format', '{{.Action}}']);
    expect(events.stdout.trim().split('\n')).toEqual(expect.arrayContaining(['create', 'connect', 'disconnect', 'destroy']));
  });

  test('docker run -p/-P and docker port; dockerode PortBindings and NetworkSettings', async () => {
    const pub = await d.docker(['run', '-d', '--name', 'pub', '-p', '127.0.0.1::80', 'busybox:local', ...httpd('published')]);
    expect(pub.code, pub.stderr).toBe(0);
    const port = (await d.docker(['port', 'pub', '80'])).stdout.trim();
    expect(port).toMatch(/^127\.0\.0\.1:\d+$/);
    expect((await fetchSoon(`http://${port}/`)).trim()).toBe('published');
    const all = await d.docker(['run', '-d', '--name', 'puball', '--expose', '80', '-P', 'busybox:local', ...httpd('all')]);
    expect(all.code, all.stderr).toBe(0);
    const listed = (await d.docker(['port', 'puball'])).stdout;
    expect(listed).toMatch(/^80\/tcp -> 0\.0\.0\.0:\d+$/m);

    const apiNet = await api.createNetwork({ Name: `${net}-api`, Labels: { via: 'dockerode' } });
    const info = await api.getNetwork(apiNet.id).inspect();
    expect(info.Labels).toEqual({ via: 'dockerode' });
    apiNets.push({ bridge: `tbuild${apiNet.id.slice(0, 9)}`, subnet: info.IPAM!.Config![0]!.Subnet! });
    expect((await api.listNetworks({ filters: { label: ['via=dockerode'] } })).map((n) => n.Name)).toEqual([`${net}-api`]);
    const c = await api.createContainer({
      Image: 'busybox:local',
      Cmd: httpd('dockerode'),
      ExposedPorts: { '80/tcp': {} },
      HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] }, NetworkMode: `${net}-api` },
    });
    await c.start();
    const ci = await c.inspect();
    const binding = ci.NetworkSettings.Ports['80/tcp']![0]!;
    expect(binding.HostIp).toBe('127.0.0.1');
    expect((await fetchSoon(`http://127.0.0.1:${binding.HostPort}/`)).trim()).toBe('dockerode');
    expect(ci.NetworkSettings.Networks[`${net}-api`]!.IPAddress).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    await c.remove({ force: true });
    await api.getNetwork(apiNet.id).remove();
    await expect(api.getNetwork(apiNet.id).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });
});
