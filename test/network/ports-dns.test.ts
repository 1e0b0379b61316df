import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import { createServer } from 'node:net';
import { networkInterfaces } from 'node:os';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, isRoot, mountsUnder } from '../support/tmp.js';
import { runCli, BUSYBOX_TAR } from '../support/cli.js';
import { uniqueBridge, bridgeEnv, networkLeftovers, leasesOf } from '../support/network.js';
import { processesMentioning } from '../containers/support/engine.js';

/** GET `url` from the host, polling until it answers (the server in the container needs a moment). */
async function fetchSoon(url: string): Promise<string> {
  let last: unknown;
  for (let i = 0; i < 150; i++) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      return await r.text();
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw last;
}

/** Shell words that fetch a URL, retrying for up to ~20 s (a loaded machine: servers start late). */
const GET = 'get() { for i in $(seq 60); do timeout 3 wget -q -O- "$1" && return 0; sleep 0.3; done; return 1; };';
const externalAddress = () =>
  Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal && !a.address.startsWith('10.'))?.address;

describe.runIf(isRoot)('published ports and user networks (netavark, aardvark-dns)', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let root: string;
  let b: { bridge: string; subnet: string };
  let env: Record<string, string>;
  const cli = (args: string[]) => runCli(args, { root, env });
  const tag = Math.random().toString(36).slice(2, 7);
  const userNets: Array<{ bridge: string; subnet: string }> = [];

  beforeAll(async () => {
    tmp = await tempDir('tbnp-');
    root = join(tmp.path, 'root');
    b = uniqueBridge();
    env = bridgeEnv(b);
    expect((await cli(['load', '-i', BUSYBOX_TAR])).code).toBe(0);
  });

  afterAll(async () => {
    for (const c of (await cli(['ps', '-aq'])).stdout.split('\n').filter(Boolean)) await cli(['rm', '-f', c]);
    for (const n of ['a', 'b', 'i']) await cli(['network', 'rm', `tbuildnet-${tag}-${n}`]);
    for (let i = 0; i < 100 && (await processesMentioning(root)).length; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await processesMentioning(root)).toEqual([]);
    expect(networkLeftovers(root, b)).toEqual([]);
    for (const u of userNets) expect(networkLeftovers(root, u)).toEqual([]);
    expect(leasesOf(root)).toEqual([]);
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  });

  const httpd = (text: string, port = 80) => ['sh', '-c', `mkdir -p /w && echo ${text} > /w/index.html && exec httpd -f -p ${port} -h /w`];

  test('-p HOST:80 answers on loopback and the external address; tbuild port and inspect show it', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '0.0.0.0', r));
    const hostPort = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    const r = await cli(['run', '-d', '--name', `web-${tag}`, '-p', `${hostPort}:80`, '-p', '127.0.0.1::81', 'busybox:local', ...httpd('published')]);
    expect(r.code, r.stderr).toBe(0);
    expect(await fetchSoon(`http://127.0.0.1:${hostPort}/`)).toBe('published\n');
    const ext = externalAddress();
    if (ext) expect(await fetchSoon(`http://${ext}:${hostPort}/`)).toBe('published\n');
    const port = await cli(['port', `web-${tag}`]);
    expect(port.stdout).toContain(`80/tcp -> 0.0.0.0:${hostPort}\n`);
    expect(port.stdout).toMatch(/^81\/tcp -> 127\.0\.0\.1:\d+$/m);
    expect((await cli(['port', `web-${tag}`, '80'])).stdout).toBe(`0.0.0.0:${hostPort}\n`);
    const insp = await cli(['inspect', '-f', '{{json .NetworkSettings.Ports}} {{.NetworkSettings.IPAddress}}', `web-${tag}`]);
    expect(insp.stdout).toContain(`"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"${hostPort}"}]`);
    expect(insp.stdout.trim().split(' ').pop()).toMatch(new RegExp(`^${b.subnet.split('.').slice(0, 3).join('\\.')}\\.\\d+$`));
    // a taken host port: Docker's error, and nothing half-made
    const taken = await cli(['run', '--rm', '-p', `${hostPort}:80`, 'busybox:local', 'true']);
    expect(taken.code).not.toBe(0);
    expect(taken.stderr).toContain(`${hostPort} failed: port is already allocated`);
    expect((await cli(['rm', '-f', `web-${tag}`])).code).toBe(0);
    expect(networkLeftovers(root, b)).toEqual([]);
  });

  test('-P publishes every EXPOSEd port on a free host port', async () => {
    const ctx = join(tmp.path, 'expose');
    await mkdir(ctx, { recursive: true });
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:local\nEXPOSE 80\nRUN mkdir /w && echo exposed > /w/index.html\nCMD ["httpd", "-f", "-p", "80", "-h", "/w"]\n');
    expect((await cli(['build', '-q', '-t', `exposed-${tag}`, ctx])).code).toBe(0);
    const r = await cli(['run', '-d', '-P', '--name', `pub-${tag}`, `exposed-${tag}`]);
    expect(r.code, r.stderr).toBe(0);
    const line = (await cli(['port', `pub-${tag}`, '80/tcp'])).stdout.trim();
    expect(line).toMatch(/^0\.0\.0\.0:\d+$/);
    expect(await fetchSoon(`http://127.0.0.1:${line.split(':')[1]}/`)).toBe('exposed\n');
    expect((await cli(['rm', '-f', `pub-${tag}`])).code).toBe(0);
  });

  test('user networks: names and aliases resolve, networks are isolated, --internal has no way out, rm in use is refused', async () => {
    const [na, nb, ni] = ['a', 'b', 'i'].map((n) => `tbuildnet-${tag}-${n}`) as [string, string, string];
    for (const [n, extra] of [[na, []], [nb, []], [ni, ['--internal']]] as const) {
      const u = uniqueBridge();
      const c = await cli(['network', 'create', '--subnet', u.subnet, ...extra, n]);
      expect(c.code, c.stderr).toBe(0);
      const id = c.stdout.trim();
      userNets.push({ bridge: `tbuild${id.slice(0, 9)}`, subnet: u.subnet });
    }
    const ls = await cli(['network', 'ls', '--format', '{{.Name}}']);
    expect(ls.stdout.split('\n')).toEqual(expect.arrayContaining(['bridge', 'host', 'none', na, nb, ni]));
    expect((await cli(['run', '-d', '--name', `alpha-${tag}`, '--network', na, '--network-alias', 'svc', 'busybox:local', ...httpd('alpha')])).code).toBe(0);
    const nets = JSON.parse((await cli(['inspect', '-f', '{{json .NetworkSettings.Networks}}', `alpha-${tag}`])).stdout) as Record<string, { IPAddress: string }>;
    const ip = nets[na]!.IPAddress;
    expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const same = await cli(['run', '--rm', '--network', na, 'busybox:local', 'sh', '-c', `${GET} get http://alpha-${tag}/; get http://svc/`]);
    expect(same.stdout).toBe('alpha\nalpha\n');
    const other = await cli(['run', '--rm', '--network', nb, 'busybox:local', 'sh', '-c', `timeout 3 wget -q -O- http://${ip}/ || echo unreachable`]);
    expect(other.stdout).toContain('unreachable');
    const internal = await cli(['run', '--rm', '--network', ni, 'busybox:local', 'sh', '-c', 'timeout 3 wget -q -O- http://deb.debian.org/debian/ >/dev/null || echo no-route-out']);
    expect(internal.stdout).toContain('no-route-out');
    const rm = await cli(['network', 'rm', na]);
    expect(rm.code).not.toBe(0);
    expect(rm.stderr).toContain('has active endpoints');
    // connect a running container to a second network, then disconnect it
    expect((await cli(['network', 'connect', nb, `alpha-${tag}`])).code).toBe(0);
    const viaB = await cli(['run', '--rm', '--network', nb, 'busybox:local', 'sh', '-c', `${GET} get http://alpha-${tag}/`]);
    expect(viaB.stdout).toBe('alpha\n');
    expect((await cli(['network', 'disconnect', nb, `alpha-${tag}`])).code).toBe(0);
    expect((await cli(['rm', '-f', `alpha-${tag}`])).code).toBe(0);
    const pruned = await cli(['network', 'prune', '-f']);
    expect(pruned.stdout).toContain(na);
  });
});
