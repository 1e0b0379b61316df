import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, isRoot, mountsUnder } from '../support/tmp.js';
import { runCli, BUSYBOX_TAR } from '../support/cli.js';
import { uniqueBridge, bridgeEnv, networkLeftovers, leasesOf } from '../support/network.js';
import { processesMentioning } from '../containers/support/engine.js';

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '0.0.0.0', r));
  const port = (probe.address() as { port: number }).port;
  await new Promise((r) => probe.close(r));
  return port;
}

/**
 * A DHCPDISCOVER for `mac` asking for `ip`, to server `serverIp`: busybox's udhcpd is the one UDP
 * server in busybox, and it records an offered lease, so the datagram's arrival can be read back.
 */
function dhcpDiscover(mac: number[], ip: string, serverIp: string): Buffer {
  const p = Buffer.alloc(300);
  p[0] = 1; // BOOTREQUEST
  p[1] = 1; // ethernet
  p[2] = 6;
  p.writeUInt32BE(0x7b0d5eed, 4);
  Buffer.from(mac).copy(p, 28);
  p.writeUInt32BE(0x63825363, 236);
  const octets = (s: string) => s.split('.').map(Number);
  Buffer.from([53, 1, 1, 50, 4, ...octets(ip), 54, 4, ...octets(serverIp), 255]).copy(p, 240);
  return p;
}

/** What #10 asks to be shown with real traffic beyond TCP to containers: UDP, the host from a build, ports across restarts. */
describe.runIf(isRoot)('traffic: a UDP published port, a build reaching the host, ports across stop/start', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let root: string;
  let b: { bridge: string; subnet: string };
  let env: Record<string, string>;
  let server: Server | undefined;
  const cli = (args: string[]) => runCli(args, { root, env });

  beforeAll(async () => {
    tmp = await tempDir('tbnx-');
    root = join(tmp.path, 'root');
    b = uniqueBridge();
    env = bridgeEnv(b);
    expect((await cli(['load', '-i', BUSYBOX_TAR])).code).toBe(0);
  });

  afterAll(async () => {
    if (server) await new Promise((r) => server!.close(r));
    for (const c of (await cli(['ps', '-aq'])).stdout.split('\n').filter(Boolean)) await cli(['rm', '-f', c]);
    for (let i = 0; i < 100 && (await processesMentioning(root)).length; i++) await new Promise((r) => setTimeout(r, 100));
    expect(networkLeftovers(root, b)).toEqual([]);
    expect(leasesOf(root)).toEqual([]);
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  });

  test('-p HOST:67/udp: a datagram sent to the host port reaches the container', async () => {
    const port = await freePort();
    const conf = 'start 10.99.0.10\\nend 10.99.0.20\\ninterface eth0\\nlease_file /tmp/leases\\n';
    const r = await cli(['run', '-d', '--name', 'udp', '-p', `127.0.0.1:${port}:67/udp`, 'busybox:local', 'sh', '-c', `printf "${conf}" > /tmp/u.conf; touch /tmp/leases; exec udhcpd -f /tmp/u.conf`]);
    expect(r.code, r.stderr).toBe(0);
    expect((await cli(['port', 'udp'])).stdout).toBe(`67/udp -> 127.0.0.1:${port}\n`);
    const ip = (await cli(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'udp'])).stdout.trim();
    const sock = createSocket('udp4');
    let leases = '';
    try {
      // udhcpd may still be starting, and it checks the address is free before it offers it
      for (let i = 0; i < 30 && !leases.includes('02:42:de:ad:be:ef'); i++) {
        await new Promise<void>((res, rej) => sock.send(dhcpDiscover([0x02, 0x42, 0xde, 0xad, 0xbe, 0xef], '10.99.0.15', ip), port, '127.0.0.1', (e) => (e ? rej(e) : res())));
        await new Promise((res) => setTimeout(res, 500));
        leases = (await cli(['exec', 'udp', 'sh', '-c', 'kill -USR1 $(pidof udhcpd); sleep 0.3; dumpleases -f /tmp/leases'])).stdout;
      }
    } finally {
      sock.close();
    }
    expect(leases).toMatch(/02:42:de:ad:be:ef\s+10\.99\.0\.15/);
    expect((await cli(['rm', '-f', 'udp'])).code).toBe(0);
  });

  test('a RUN step reaches an HTTP server on the host through --add-host NAME:host-gateway', async () => {
    server = createHttpServer((_req, res) => res.end('from-the-host\n'));
    await new Promise<void>((r) => server!.listen(0, '0.0.0.0', r));
    const port = (server.address() as { port: number }).port;
    const ctx = join(tmp.path, 'ctx');
    await mkdir(ctx, { recursive: true });
    await writeFile(join(ctx, 'Dockerfile'), `FROM busybox:local\nRUN wget -q -O- http://hostbox:${port}/ > /got && cat /got\n`);
    const r = await cli(['build', '--progress', 'plain', '--no-cache', '--add-host', 'hostbox:host-gateway', ctx]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('from-the-host');
  });

  test('a container keeps its published port across stop and start', async () => {
    const port = await freePort();
    const r = await cli(['run', '-d', '--name', 'keeper', '-p', `127.0.0.1:${port}:80`, 'busybox:local', 'sh', '-c', 'mkdir -p /w && echo kept > /w/index.html && exec httpd -f -p 80 -h /w']);
    expect(r.code, r.stderr).toBe(0);
    const get = async () => {
      for (let i = 0; i < 100; i++) {
        const text = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) }).then((x) => x.text()).catch(() => undefined);
        if (text) return text;
        await new Promise((res) => setTimeout(res, 100));
      }
      return undefined;
    };
    expect(await get()).toBe('kept\n');
    expect((await cli(['stop', '-t', '1', 'keeper'])).code).toBe(0);
    expect((await cli(['port', 'keeper'])).stdout).toBe('');
    expect((await cli(['start', 'keeper'])).code).toBe(0);
    expect((await cli(['port', 'keeper', '80'])).stdout).toBe(`127.0.0.1:${port}\n`);
    expect(await get()).toBe('kept\n');
    expect((await cli(['rm', '-f', 'keeper'])).code).toBe(0);
  });
});
