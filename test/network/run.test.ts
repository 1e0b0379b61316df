import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, isRoot, mountsUnder } from '../support/tmp.js';
import { runCli, BUSYBOX_TAR, PROJECT_ROOT } from '../support/cli.js';
import { uniqueBridge, bridgeEnv, networkLeftovers, leasesOf } from '../support/network.js';
import { processesMentioning } from '../containers/support/engine.js';

/** Debian's mirror is the one outside address this machine reaches (see DESIGN: facts). */
const MIRROR = 'http://deb.debian.org/debian/dists/bookworm/Release';

describe.runIf(isRoot)('RUN steps and containers on the default bridge', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let root: string;
  let b: { bridge: string; subnet: string };
  let env: Record<string, string>;
  const cli = (args: string[], extra: { input?: string } = {}) => runCli(args, { root, env, ...extra });
  const prefix = () => b.subnet.replace(/0\/24$/, '');

  beforeAll(async () => {
    tmp = await tempDir('tbnr-');
    root = join(tmp.path, 'root');
    b = uniqueBridge();
    env = bridgeEnv(b);
    const r = await cli(['load', '-i', BUSYBOX_TAR]);
    expect(r.stderr).toBe('');
  });

  afterAll(async () => {
    for (let i = 0; i < 100 && (await processesMentioning(root)).length; i++) await new Promise((r) => setTimeout(r, 100));
    expect(networkLeftovers(root, b)).toEqual([]);
    expect(leasesOf(root)).toEqual([]);
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  });

  async function context(dockerfile: string): Promise<string> {
    const dir = join(tmp.path, `ctx-${Math.random().toString(36).slice(2)}`);
    await mkdir(dir);
    await writeFile(join(dir, 'Dockerfile'), dockerfile);
    return dir;
  }

  test('RUN reaches the outside by default; RUN --network=none and build --network none have only lo', async () => {
    const ctx = await context(
      [
        'FROM busybox:local',
        `RUN wget -q -O- ${MIRROR} | head -1 && ip -4 -o addr show eth0 && cat /etc/resolv.conf`,
        'RUN --network=none ip -o link | cut -d: -f2 | tr -d " " | tr "\\n" , ; echo',
        '',
      ].join('\n'),
    );
    const r = await cli(['build', '--progress', 'plain', '--no-cache', ctx]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('Origin: Debian');
    expect(r.stderr).toContain(`inet ${prefix()}`);
    expect(r.stderr).toMatch(/nameserver \d+\.\d+\.\d+\.\d+/);
    expect(r.stderr).toContain(' lo,\n');
    const none = await cli(['build', '--progress', 'plain', '--no-cache', '--network', 'none', await context(`FROM busybox:local\nRUN ip -o link | wc -l\n`)]);
    expect(none.code, none.stderr).toBe(0);
    expect(none.stderr).toMatch(/#\d+ [\d.]+ 1\n/);
  });

  test('run: default bridge with NAT out, its address in /etc/hosts; --network none; --add-host host-gateway; --dns', async () => {
    const r = await cli(['run', '--rm', '--hostname', 'web1', 'busybox:local', 'sh', '-c', `wget -q -O- ${MIRROR} | head -1; grep web1 /etc/hosts`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Origin: Debian');
    expect(r.stdout).toMatch(new RegExp(`^${prefix().replace(/\./g, '\\.')}\\d+\\s+web1$`, 'm'));
    const none = await cli(['run', '--rm', '--network', 'none', 'busybox:local', 'sh', '-c', 'ip -o link | wc -l']);
    expect(none.stdout.trim()).toBe('1');
    const extra = await cli(['run', '--rm', '--add-host', 'hostbox:host-gateway', '--dns', '10.1.2.3', '--dns-search', 'example.test', 'busybox:local', 'sh', '-c', 'grep hostbox /etc/hosts; cat /etc/resolv.conf']);
    expect(extra.code, extra.stderr).toBe(0);
    expect(extra.stdout).toContain(`${prefix()}1\thostbox`);
    expect(extra.stdout).toContain('nameserver 10.1.2.3');
    expect(extra.stdout).toContain('search example.test');
  });

  test('unknown network, --link and bad -p specs fail naming what is wrong', async () => {
    const r = await cli(['run', '--rm', '--network', 'nosuchnet', 'busybox:local', 'true']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('network nosuchnet not found');
    const link = await cli(['run', '--rm', '--link', 'other', 'busybox:local', 'true']);
    expect(link.stderr).toContain('--link is not supported');
    const bad = await cli(['run', '--rm', '-p', '80/sctp', 'busybox:local', 'true']);
    expect(bad.stderr).toContain('sctp');
  });

  test('kill -9 of a build mid-RUN and of a container shim: the next start releases their namespaces', async () => {
    const ctx = await context(`FROM busybox:local\nRUN sleep 600\n`);
    const child = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'src', 'cli.ts'), '--root', root, 'build', '--no-cache', ctx], {
      env: { ...process.env, ...env },
      stdio: 'ignore',
    });
    const netnsDir = join(root, 'network', 'netns');
    for (let i = 0; i < 600 && !(existsSync(netnsDir) && readdirSync(netnsDir).length); i++) await new Promise((r) => setTimeout(r, 100));
    expect(readdirSync(netnsDir)).toHaveLength(1);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const d = await cli(['run', '-d', 'busybox:local', 'sleep', '600']);
    expect(d.code, d.stderr).toBe(0);
    const id = d.stdout.trim();
    const shim = await (async () => {
      for (let i = 0; i < 300; i++) {
        const state = await cli(['inspect', '--format', '{{.State.Status}}', id]).catch(() => undefined);
        if (state?.stdout.trim() === 'running') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const pids = await processesMentioning(id);
      return pids;
    })();
    for (const pid of shim) process.kill(pid, 'SIGKILL');
    // the next engine start reconciles: the build's namespace and the dead shim's go
    const rm = await cli(['rm', '-f', id]);
    expect(rm.code, rm.stderr).toBe(0);
    expect(networkLeftovers(root, b)).toEqual([]);
    expect(leasesOf(root)).toEqual([]);
    // a build sweeps the killed build's scratch mounts
    const again = await cli(['build', '-q', await context('FROM busybox:local\nRUN true\n')]);
    expect(again.code, again.stderr).toBe(0);
  });

  test("daemon.json's dns, dns-search and dns-opts reach RUN steps and containers that name none; --dns still wins", async () => {
    const config = join(tmp.path, 'daemon.json');
    await writeFile(config, JSON.stringify({ dns: ['192.0.2.53'], 'dns-search': ['corp.example'], 'dns-opts': ['ndots:2'] }));
    const withFile = (args: string[]) => runCli(args, { root, env: { ...env, TBUILD_CONFIG: config } });
    const ctx = await context('FROM busybox:local\nRUN cat /etc/resolv.conf\n');
    const b1 = await withFile(['build', '--progress', 'plain', '--no-cache', ctx]);
    expect(b1.code, b1.stderr).toBe(0);
    expect(b1.stderr).toContain('nameserver 192.0.2.53');
    expect(b1.stderr).toContain('search corp.example');
    expect(b1.stderr).toContain('options ndots:2');
    const r1 = await withFile(['run', '--rm', 'busybox:local', 'cat', '/etc/resolv.conf']);
    expect(r1.stdout).toContain('nameserver 192.0.2.53');
    expect(r1.stdout).toContain('search corp.example');
    const r2 = await withFile(['run', '--rm', '--dns', '198.51.100.7', 'busybox:local', 'cat', '/etc/resolv.conf']);
    expect(r2.stdout).toContain('nameserver 198.51.100.7');
    expect(r2.stdout).not.toContain('192.0.2.53');
    await writeFile(config, JSON.stringify({ dns: ['not-an-ip'] }));
    const bad = await withFile(['run', '--rm', 'busybox:local', 'true']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('"dns" holds "not-an-ip", which is not an IP address');
  }, 120_000);
});
