/**
 * Live-container figures through the stock Docker CLI: `docker stats --no-stream` over 20 running
 * containers, and `docker exec CTR true` against tbuild daemon and, in the same run, dockerd 26
 * (../shared/bench/setup-peers.sh; the same docker binary drives both). Medians.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, type BenchRow } from './types.js';

const here = dirname(fileURLToPath(import.meta.url));
const ENTRY = existsSync(join(here, '..', 'dist', 'daemon', 'server.js')) ? [join(here, '..', 'dist', 'cli.js')] : ['--import', 'tsx', join(here, '..', 'src', 'cli.ts')];
const SHARED = join(here, '..', '..', 'shared');
const BUSYBOX = join(SHARED, 'images', 'busybox-local.docker.tar');
const PEERS = join(SHARED, 'bench', 'setup-peers.sh');
const DOCKER = '/usr/local/bin/docker';
const CONTAINERS = 20;
const SAMPLES = Number(process.env.BENCH_RUN_SAMPLES ?? 15);

function docker(host: string, config: string, args: string[]): { secs: number; stdout: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(DOCKER, args, { env: { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: config, DOCKER_CLI_HINTS: 'false' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')} failed (${r.status}): ${r.stderr?.toString().slice(-2000)}`);
  return { secs, stdout: r.stdout.toString() };
}

async function startDaemon(dir: string): Promise<{ child: ChildProcess; host: string }> {
  const sock = join(dir, 'd.sock');
  const child = spawn(process.execPath, [...ENTRY, 'daemon', '-H', `unix://${sock}`, '--root', join(dir, 'root')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  for (const end = Date.now() + 30_000; !log.includes('daemon ready'); await new Promise((r) => setTimeout(r, 50))) {
    if (child.exitCode !== null || Date.now() > end) throw new Error(`daemon did not start: ${log}`);
  }
  return { child, host: `unix://${sock}` };
}

function concurrentStats(socketPath: string, ids: string[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  return Promise.all(
    ids.map(
      (id) =>
        new Promise<void>((resolve, reject) => {
          http.get({ socketPath, path: `/containers/${id}/stats?stream=false` }, (r) => r.resume().on('end', resolve)).on('error', reject);
        }),
    ),
  ).then(() => Number(process.hrtime.bigint() - t0) / 1e9);
}

function execTimes(host: string, config: string, ctr: string): number {
  docker(host, config, ['exec', ctr, 'true']); // warm-up
  const xs: number[] = [];
  for (let i = 0; i < SAMPLES; i++) xs.push(docker(host, config, ['exec', ctr, 'true']).secs);
  return median(xs);
}

export async function bench(): Promise<BenchRow[]> {
  if (!existsSync(DOCKER) || !existsSync(BUSYBOX)) return [{ area: 'containers', name: 'skipped', value: NaN, unit: '', note: 'needs /usr/local/bin/docker and ../shared/images' }];
  const dir = await mkdtemp('/tmp/tbc-bench-');
  const config = join(dir, 'docker-config');
  await mkdir(config, { recursive: true });
  const { child, host } = await startDaemon(dir);
  let startedPeers = false;
  const rows: BenchRow[] = [];
  try {
    docker(host, config, ['load', '-i', BUSYBOX]);
    for (let i = 0; i < CONTAINERS; i++) docker(host, config, ['run', '-d', '--name', `st${i}`, 'busybox:local', 'sleep', '600']);
    docker(host, config, ['stats', '--no-stream']);
    const stats: number[] = [];
    for (let i = 0; i < 5; i++) stats.push(docker(host, config, ['stats', '--no-stream']).secs);
    const s = median(stats);
    rows.push({
      area: 'containers',
      name: `docker stats --no-stream, ${CONTAINERS} containers`,
      value: s * 1000,
      unit: 'ms',
      target: '< 500 ms',
      met: s < 0.5,
      note: 'the Docker CLI renders on a 500 ms ticker, so its wall time cannot go below ~0.55 s on any daemon',
    });
    // what the CLI waits for: every container's stats (two samples for CPU %) from the daemon, at once
    const ids = docker(host, config, ['ps', '-q', '--no-trunc']).stdout.trim().split('\n');
    const api: number[] = [];
    for (let i = 0; i < 5; i++) api.push(await concurrentStats(join(dir, 'd.sock'), ids));
    const a = median(api);
    rows.push({ area: 'containers', name: `stats API (stream=false), ${CONTAINERS} containers at once`, value: a * 1000, unit: 'ms', target: '< 500 ms', met: a < 0.5 });

    // exec on the same footing as the peer's: the stats containers gone, one `--network none` container
    docker(host, config, ['rm', '-f', ...Array.from({ length: CONTAINERS }, (_, i) => `st${i}`)]);
    docker(host, config, ['run', '-d', '--name', 'tbc-exec', '--network', 'none', 'busybox:local', 'sleep', '600']);
    const ours = execTimes(host, config, 'tbc-exec');
    let note = 'no peer dockerd';
    let met: boolean | undefined;
    if (existsSync(PEERS) && process.env.BENCH_PEERS !== '0') {
      const up = spawnSync('bash', [PEERS], { stdio: ['ignore', 'ignore', 'pipe'] });
      if (up.status === 0) {
        startedPeers = true;
        const peer = 'unix:///run/peer-docker26.sock';
        spawnSync(DOCKER, ['rm', '-f', 'tbc-exec'], { env: { ...process.env, DOCKER_HOST: peer, DOCKER_CONFIG: config }, stdio: 'ignore' });
        docker(peer, config, ['run', '-d', '--name', 'tbc-exec', '--network', 'none', 'busybox:local', 'sleep', '600']);
        const theirs = execTimes(peer, config, 'tbc-exec');
        docker(peer, config, ['rm', '-f', 'tbc-exec']);
        note = `dockerd 26: ${(theirs * 1000).toFixed(0)} ms; ratio ${(ours / theirs).toFixed(2)}×`;
        met = ours <= theirs;
      }
    }
    rows.push({ area: 'containers', name: 'docker exec CTR true', value: ours * 1000, unit: 'ms', target: '<= 1.0× dockerd 26', ...(met !== undefined ? { met } : {}), note });
  } finally {
    spawnSync(DOCKER, ['rm', '-f', 'tbc-exec', ...Array.from({ length: CONTAINERS }, (_, i) => `st${i}`)], { env: { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: config }, stdio: 'ignore' });
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    if (startedPeers) spawnSync('bash', [PEERS, '--stop'], { stdio: 'ignore' });
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}
