/**
 * Daemon figures: `docker build` through `tbuild daemon` (the Engine API path) against the embedded
 * `tbuild build` on the cold-simple case, `docker run --rm busybox:local true` latency, and the
 * daemon's idle RSS. Both build paths run `--no-cache` on their own state root (busybox:local
 * loaded), alternating, so the ratio compares like with like. The daemon and the CLI run from
 * `dist/` when it is built, from source (tsx) otherwise; both paths use the same entry.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, type BenchRow } from './types.js';

const here = dirname(fileURLToPath(import.meta.url));
const DIST_CLI = join(here, '..', 'dist', 'cli.js');
const SRC_CLI = join(here, '..', 'src', 'cli.ts');
const ENTRY = existsSync(join(here, '..', 'dist', 'daemon', 'server.js')) ? [DIST_CLI] : ['--import', 'tsx', SRC_CLI];
const SHARED = join(here, '..', '..', 'shared');
const CASE = join(SHARED, 'bench', 'cases', 'cold-simple');
const BUSYBOX = join(SHARED, 'images', 'busybox-local.docker.tar');
const DOCKER = '/usr/local/bin/docker';
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const RUN_SAMPLES = Number(process.env.BENCH_RUN_SAMPLES ?? 15);

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd: here, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr?.toString().slice(-2000)}`);
  return secs;
}

/** `tbuild daemon` from dist/ on `<dir>/d.sock` with its root in `<dir>/root` (the other benches use it too). */
export async function startDaemon(dir: string): Promise<{ child: ChildProcess; host: string; stop: () => Promise<void> }> {
  const sock = join(dir, 'd.sock');
  const child = spawn(process.execPath, [...ENTRY, 'daemon', '-H', `unix://${sock}`, '--root', join(dir, 'root')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const deadline = Date.now() + 30_000;
  while (!log.includes('daemon ready')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`daemon did not start: ${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    host: `unix://${sock}`,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

export async function bench(): Promise<BenchRow[]> {
  if (!existsSync(DOCKER)) return [{ area: 'daemon', name: 'skipped', value: NaN, unit: '', note: 'no docker CLI at /usr/local/bin/docker' }];
  const dir = await mkdtemp('/tmp/tbd-bench-');
  const embeddedRoot = join(dir, 'embedded');
  await mkdir(join(dir, 'docker-config'), { recursive: true });
  const daemon = await startDaemon(dir);
  const env = { DOCKER_HOST: daemon.host, DOCKER_BUILDKIT: '0', DOCKER_CONFIG: join(dir, 'docker-config') };
  try {
    // Idle: started, nothing asked of it yet.
    await new Promise((r) => setTimeout(r, 1000));
    const idleRss = rssMb(daemon.child.pid!);

    timed(DOCKER, ['load', '-i', BUSYBOX], env);
    timed(process.execPath, [...ENTRY, '--root', embeddedRoot, 'load', '-i', BUSYBOX]);
    // One warm-up of each path (module loading, page cache), then alternate.
    timed(DOCKER, ['build', '--no-cache', '-q', '-t', 'cs:api', CASE], env);
    timed(process.execPath, [...ENTRY, '--root', embeddedRoot, 'build', '--no-cache', '-q', '-t', 'cs:emb', CASE]);
    const api: number[] = [];
    const embedded: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      api.push(timed(DOCKER, ['build', '--no-cache', '-q', '-t', 'cs:api', CASE], env));
      embedded.push(timed(process.execPath, [...ENTRY, '--root', embeddedRoot, 'build', '--no-cache', '-q', '-t', 'cs:emb', CASE]));
    }
    const apiMed = median(api);
    const embMed = median(embedded);
    const overhead = (apiMed / embMed - 1) * 100;

    timed(DOCKER, ['run', '--rm', 'busybox:local', 'true'], env);
    const runs: number[] = [];
    for (let i = 0; i < RUN_SAMPLES; i++) runs.push(timed(DOCKER, ['run', '--rm', 'busybox:local', 'true'], env) * 1000);
    const runMed = median(runs);
    const busyRss = rssMb(daemon.child.pid!);

    return [
      { area: 'daemon', name: 'cold-simple docker build via daemon', value: apiMed, unit: 's', note: `embedded tbuild build ${embMed.toFixed(2)} s; ${RUNS} runs, --no-cache` },
      { area: 'daemon', name: 'API path overhead vs embedded', value: overhead, unit: '%', target: '< 10 %', met: overhead < 10 },
      { area: 'daemon', name: 'docker run --rm busybox:local true (median)', value: runMed, unit: 'ms', target: '<= 150 ms', met: runMed <= 150, note: `${RUN_SAMPLES} samples, min ${Math.min(...runs).toFixed(0)} ms; most of it is the container manager's start (shim spawn), see --access-log` },
      { area: 'daemon', name: 'daemon idle RSS', value: idleRss, unit: 'MB', target: '<= 60 MB', met: idleRss <= 60, note: `after the bench: ${busyRss.toFixed(0)} MB` },
    ];
  } finally {
    spawnSync(DOCKER, ['rm', '-f', ...(spawnSync(DOCKER, ['ps', '-aq'], { env: { ...process.env, ...env } }).stdout?.toString().split('\n').filter(Boolean) ?? [])], {
      env: { ...process.env, ...env },
      stdio: 'ignore',
    });
    await daemon.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
