/**
 * Networking side by side with dockerd 26 on its own bridge (#10's comparisons): `docker run --rm
 * busybox true` on the default bridge, and a 200 MB download from a container through a
 * published port, each against `tbuild daemon` and dockerd with the same Docker CLI in one run.
 *
 * ../shared/bench/setup-peers.sh unpacks dockerd 26 and runs it without a bridge; this starts a
 * second one from the same binaries with a bridge (`tbuilddk0`, made here so it carries our
 * prefix), its own socket, data and exec roots, and stops it after. dockerd leaves its iptables
 * chains behind when it stops: those it added (none existed before) are flushed and deleted.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, mkdir } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, type BenchRow } from './types.js';

const here = dirname(fileURLToPath(import.meta.url));
const PEER = '/opt/peer-docker26';
const DOCKERD = join(PEER, 'usr/sbin/dockerd');
const DOCKER = join(PEER, 'usr/bin/docker');
const BUSYBOX_TAR = join(here, '..', '..', 'shared', 'images', 'busybox-local.docker.tar');
const DIST_CLI = join(here, '..', 'dist', 'cli.js');
const BRIDGE = 'tbuilddk0';
const BRIDGE_CIDR = '10.252.0.1/24';
const TB_ENV = { TBUILD_BRIDGE: `tbuildp${process.pid % 100000}`, TBUILD_BRIDGE_SUBNET: '10.252.1.0/24' };

function docker(host: string, args: string[], timeoutMs = 120_000): string {
  return execFileSync(DOCKER, args, { env: { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: join(PEER, 'config') }, encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
}

function timedMs(f: () => void): number {
  const t0 = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function until(ok: () => boolean, ms: number, what: string): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 200))) if (ok()) return;
  throw new Error(`${what} did not come up`);
}

function iptablesChains(): Set<string> {
  const out = new Set<string>();
  for (const table of ['filter', 'nat']) {
    for (const l of execFileSync('iptables', ['-t', table, '-S'], { encoding: 'utf8' }).split('\n')) {
      const m = /^-N (\S+)/.exec(l);
      if (m) out.add(`${table} ${m[1]}`);
    }
  }
  return out;
}

/** Remove the rules and chains dockerd added (jumps into its chains first, then the chains). */
function removeDockerChains(before: Set<string>): void {
  const added = [...iptablesChains()].filter((c) => !before.has(c) && / DOCKER/.test(c));
  for (const table of ['filter', 'nat']) {
    const mine = added.filter((c) => c.startsWith(`${table} `)).map((c) => c.slice(table.length + 1));
    if (!mine.length) continue;
    for (const l of execFileSync('iptables', ['-t', table, '-S'], { encoding: 'utf8' }).split('\n')) {
      if (!l.startsWith('-A ') || mine.some((c) => l.startsWith(`-A ${c} `))) continue;
      if (mine.some((c) => l.includes(`-j ${c}`)) || l.includes(BRIDGE)) {
        execFileSync('iptables', ['-t', table, ...l.replace(/^-A /, '-D ').split(' ')]);
      }
    }
    for (const c of mine) execFileSync('iptables', ['-t', table, '-F', c]);
    for (const c of mine) execFileSync('iptables', ['-t', table, '-X', c]);
  }
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
}

/** GET a URL with curl; bytes per second. */
function download(url: string): number {
  const out = execFileSync('curl', ['-s', '-o', '/dev/null', '-w', '%{size_download} %{time_total}', url], { encoding: 'utf8', timeout: 120_000 });
  const [size, secs] = out.trim().split(' ').map(Number) as [number, number];
  if (size < 200e6) throw new Error(`downloaded ${size} bytes from ${url}`);
  return size / secs;
}

export async function bench(): Promise<BenchRow[]> {
  if (!existsSync(DOCKERD) || !existsSync(DIST_CLI) || !existsSync(BUSYBOX_TAR)) {
    process.stderr.write('[bench]   network-peer: needs ../shared/bench/setup-peers.sh and npm run build; skipped\n');
    return [];
  }
  const dir = await mkdtemp('/tmp/tbbench-peer-');
  const dockerHost = `unix://${dir}/dockerd.sock`;
  const tbuildHost = `unix://${dir}/tbuild.sock`;
  const chainsBefore = iptablesChains();
  let dockerd: ChildProcess | undefined;
  let tbuild: ChildProcess | undefined;
  const rows: BenchRow[] = [];
  try {
    execFileSync('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
    execFileSync('ip', ['addr', 'add', BRIDGE_CIDR, 'dev', BRIDGE]);
    execFileSync('ip', ['link', 'set', BRIDGE, 'up']);
    await mkdir(join(dir, 'data'));
    dockerd = spawn(DOCKERD, ['-H', dockerHost, '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'), '--pidfile', join(dir, 'dockerd.pid'), '--bridge', BRIDGE, '--storage-driver', 'overlay2', '--ip6tables=false'], {
      env: { ...process.env, PATH: `${PEER}/usr/bin:${PEER}/usr/sbin:${process.env.PATH}` },
      stdio: 'ignore',
    });
    tbuild = spawn(process.execPath, [DIST_CLI, 'daemon', '-H', tbuildHost, '--root', join(dir, 'tbuild')], { env: { ...process.env, ...TB_ENV }, stdio: 'ignore' });
    const up = (host: string) => () => {
      try {
        docker(host, ['version', '-f', '{{.Server.Version}}'], 5000);
        return true;
      } catch {
        return false;
      }
    };
    await until(up(dockerHost), 60_000, 'dockerd 26');
    await until(up(tbuildHost), 60_000, 'tbuild daemon');
    const targets = [
      { name: 'tbuild', host: tbuildHost },
      { name: 'dockerd', host: dockerHost },
    ];
    for (const t of targets) docker(t.host, ['load', '-q', '-i', BUSYBOX_TAR]);

    // run --rm on the default bridge, alternating so both see the same machine
    const runs: Record<string, number[]> = { tbuild: [], dockerd: [] };
    for (const t of targets) docker(t.host, ['run', '--rm', 'busybox:local', 'true']);
    for (let i = 0; i < 7; i++) for (const t of targets) runs[t.name]!.push(timedMs(() => docker(t.host, ['run', '--rm', 'busybox:local', 'true'])));
    const tb = median(runs.tbuild!);
    const dk = median(runs.dockerd!);
    rows.push({
      area: 'network',
      name: '`docker run --rm busybox true`, default bridge, tbuild daemon vs dockerd 26',
      value: tb / dk,
      unit: '×',
      target: '<= 1.0',
      met: tb <= dk,
      note: `${tb.toFixed(0)} ms vs ${dk.toFixed(0)} ms (same Docker CLI, median of 7)`,
    });

    // 200 MB through a published port, from the host's loopback and its external address
    const external = execFileSync('ip', ['-4', '-o', 'route', 'get', '1.1.1.1'], { encoding: 'utf8' }).match(/src (\S+)/)?.[1];
    const speeds: Record<string, Record<string, number>> = {};
    for (const t of targets) {
      const id = docker(t.host, ['run', '-d', '-p', '80', 'busybox:local', 'sh', '-c', 'mkdir /w && head -c 209715200 /dev/urandom > /w/big && exec httpd -f -p 80 -h /w']).trim();
      try {
        const port = docker(t.host, ['port', id, '80/tcp']).split('\n')[0]!.split(':').pop()!;
        await until(() => {
          try {
            return execFileSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-r', '0-0', `http://127.0.0.1:${port}/big`], { encoding: 'utf8' }) === '206';
          } catch {
            return false;
          }
        }, 60_000, `${t.name}'s httpd`);
        speeds[t.name] = {};
        for (const [where, addr] of [['loopback', '127.0.0.1'], ['external', external]] as const) {
          if (!addr) continue;
          speeds[t.name]![where] = median([0, 1, 2].map(() => download(`http://${addr}:${port}/big`)));
        }
      } finally {
        docker(t.host, ['rm', '-f', id]);
      }
    }
    for (const where of ['loopback', 'external']) {
      const a = speeds.tbuild?.[where];
      const b = speeds.dockerd?.[where];
      if (!a || !b) continue;
      rows.push({
        area: 'network',
        name: `200 MB through a published port (${where}), tbuild vs dockerd 26`,
        value: a / b,
        unit: '×',
        target: '>= 0.80',
        met: a / b >= 0.8,
        note: `${(a / 1e6).toFixed(0)} MB/s vs ${(b / 1e6).toFixed(0)} MB/s (median of 3)`,
      });
    }
  } finally {
    await stop(tbuild);
    await stop(dockerd);
    removeDockerChains(chainsBefore);
    try {
      execFileSync('ip', ['link', 'del', BRIDGE], { stdio: 'ignore' });
    } catch {
      // never made
    }
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
  return rows;
}
