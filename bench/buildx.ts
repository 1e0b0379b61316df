/**
 * `npm run bench -- buildx`: the same `docker buildx build` command (Docker CLI 26 + buildx 0.13)
 * against `tbuild daemon` and, in the same run, against dockerd 26's BuildKit started by
 * ../shared/bench/setup-peers.sh. Cold cases run with `--no-cache` on both builders; the
 * ratio column compares like with like. Also: a 5,000-file context rebuilt after changing one
 * file, where only the context transfer is timed (the `[internal] load build context` step).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, type BenchRow } from './types.js';

const here = dirname(fileURLToPath(import.meta.url));
const SHARED = join(here, '..', '..', 'shared');
const CASES = join(SHARED, 'bench', 'cases');
const BUSYBOX = join(SHARED, 'images', 'busybox-local.docker.tar');
const PEERS = join(SHARED, 'bench', 'setup-peers.sh');
const CLIENTS = [process.env.TBUILD_CLIENTS_DIR, '/opt/tbuild-clients', '/opt/peer-docker26'].find((d) => d && existsSync(join(d, 'usr/bin/docker')));
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
// BENCH_CASES=git-url,cold-simple: only the cases whose names start with one of these
const ONLY = process.env.BENCH_CASES?.split(',').filter(Boolean);
const ENTRY = [join(here, '..', 'dist', 'cli.js')];

interface Target {
  name: string;
  host: string;
}

function docker(t: Target, config: string, args: string[]): { secs: number; stderr: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(join(CLIENTS!, 'usr/bin/docker'), args, {
    cwd: here,
    env: { PATH: process.env.PATH, HOME: config, DOCKER_HOST: t.host, DOCKER_CONFIG: config, DOCKER_CLI_HINTS: 'false' },
    stdio: ['ignore', 'ignore', 'pipe'],
    maxBuffer: 64 << 20,
  });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const stderr = r.stderr?.toString() ?? '';
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')} on ${t.name} failed (${r.status}): ${stderr.slice(-2000)}`);
  return { secs, stderr };
}

async function startTbuild(dir: string): Promise<{ child: ChildProcess; target: Target }> {
  const sock = join(dir, 'd.sock');
  const child = spawn(process.execPath, [...ENTRY, 'daemon', '-H', `unix://${sock}`, '--root', join(dir, 'root')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const deadline = Date.now() + 30_000;
  while (!log.includes('daemon ready')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`daemon did not start: ${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, target: { name: 'tbuild', host: `unix://${sock}` } };
}

/** Seconds the `[internal] load build context` step took, from buildx's plain progress. */
function contextSeconds(stderr: string): number {
  const m = /#(\d+) \[internal\] load build context\n/.exec(stderr);
  if (!m) return NaN;
  const done = new RegExp(`#${m[1]} DONE ([\\d.]+)s`).exec(stderr);
  return done ? Number(done[1]) : NaN;
}

export async function bench(): Promise<BenchRow[]> {
  if (!CLIENTS) return [{ area: 'buildx', name: 'skipped', value: NaN, unit: '', note: 'Docker CLI + buildx not installed (scripts/setup.sh)' }];
  if (!existsSync(BUSYBOX)) return [{ area: 'buildx', name: 'skipped', value: NaN, unit: '', note: `no ${BUSYBOX}` }];
  const dir = await mkdtemp('/tmp/tbx-bench-');
  const config = join(dir, 'config');
  mkdirSync(join(config, 'cli-plugins'), { recursive: true });
  symlinkSync(join(CLIENTS, 'usr/libexec/docker/cli-plugins/docker-buildx'), join(config, 'cli-plugins', 'docker-buildx'));
  writeFileSync(join(config, 'config.json'), '{}');
  spawnSync('sh', [join(CASES, 'many-files', 'gen.sh')], { stdio: 'ignore' });
  // A private copy: the cases that change files change this copy only.
  const cases = join(dir, 'cases');
  spawnSync('cp', ['-a', CASES, cases]);
  const { child, target: tb } = await startTbuild(dir);
  const targets: Target[] = [tb];
  let startedPeers = false;
  if (existsSync(PEERS) && process.env.BENCH_PEERS !== '0') {
    const up = spawnSync('bash', [PEERS], { stdio: ['ignore', 'ignore', 'pipe'] });
    if (up.status === 0) {
      startedPeers = true;
      targets.push({ name: 'dockerd 26 + BuildKit', host: 'unix:///run/peer-docker26.sock' });
    }
  }
  const rows: BenchRow[] = [];
  const servers: ChildProcess[] = [];
  try {
    for (const t of targets) docker(t, config, ['load', '-i', BUSYBOX]);
    const remote = await remoteSources(dir);
    servers.push(...remote.servers);
    const plan: { name: string; path: string; cold: boolean; prep?: () => void }[] = [
      { name: 'add-url-100mb', path: remote.addUrlContext, cold: true },
      { name: 'git-url-1000-files', path: remote.gitUrl, cold: true },
      { name: 'cold-simple', path: 'cold-simple', cold: true },
      { name: 'many-files', path: 'many-files', cold: true },
      { name: 'multistage-parallel', path: 'multistage-parallel', cold: true },
      { name: 'cache-hit', path: 'cold-simple', cold: false },
      { name: 'cache-bust-late', path: 'cold-simple', cold: false, prep: () => appendFileSync(join(cases, 'cold-simple', 'late.txt'), `${Date.now()}\n`) },
    ];
    const unknown = (ONLY ?? []).filter((o) => o !== 'transfer' && !plan.some((p) => p.name.startsWith(o)));
    if (unknown.length) throw new Error(`BENCH_CASES: no case named ${unknown.join(', ')} (cases: ${[...plan.map((p) => p.name), 'transfer'].join(', ')})`);
    for (const c of plan.filter((p) => !ONLY || ONLY.some((o) => p.name.startsWith(o)))) {
      const times = new Map<string, number[]>();
      for (let i = 0; i < RUNS; i++) {
        for (const t of targets) {
          // Cold: every step re-runs (`--no-cache`) on both builders; base images stay loaded.
          if (!c.cold) docker(t, config, ['buildx', 'build', '--network=host', '-q', '-t', `bx-${c.name}`, join(cases, c.path)]);
          c.prep?.();
          const context = c.path.includes('://') || c.path.startsWith('/') ? c.path : join(cases, c.path);
          const { secs } = docker(t, config, ['buildx', 'build', '--network=host', '-q', ...(c.cold ? ['--no-cache'] : []), '-t', `bx-${c.name}`, context]);
          times.set(t.name, [...(times.get(t.name) ?? []), secs]);
        }
      }
      const ours = median(times.get('tbuild')!);
      const theirs = times.has('dockerd 26 + BuildKit') ? median(times.get('dockerd 26 + BuildKit')!) : NaN;
      const ratio = ours / theirs;
      rows.push({
        area: 'buildx',
        name: `${c.name} (docker buildx build)`,
        value: ours,
        unit: 's',
        target: '<= 1.0x BuildKit',
        ...(Number.isFinite(ratio) ? { met: ratio <= 1.0 } : {}),
        note: Number.isFinite(theirs) ? `BuildKit ${theirs.toFixed(2)} s, ${ratio.toFixed(2)}x` : 'BuildKit not run',
      });
    }
    // The 5,000-file context, rebuilt after one file changed: only the transfer of that file.
    if (ONLY && !ONLY.includes('transfer')) return rows;
    const changed = join(cases, 'many-files', 'files', 'dir07', 'f042.txt');
    const transfer: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      docker(tb, config, ['buildx', 'build', '-q', '-t', 'bx-mf', join(cases, 'many-files')]);
      appendFileSync(changed, `${i}\n`);
      const { stderr } = docker(tb, config, ['buildx', 'build', '--progress', 'plain', '-t', 'bx-mf', join(cases, 'many-files')]);
      transfer.push(contextSeconds(stderr));
    }
    const t = median(transfer);
    rows.push({ area: 'buildx', name: '5,000-file context, one file changed: transfer', value: t, unit: 's', target: '<= 0.2 s', met: t <= 0.2 });
  } finally {
    for (const s of servers) s.kill('SIGTERM');
    child.kill('SIGTERM');
    if (startedPeers) spawnSync('bash', [PEERS, '--stop'], { stdio: 'ignore' });
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}

/**
 * What issue 15 measures against BuildKit: `ADD` of a 100 MB file from an HTTP server (python3's,
 * in a process of its own: the bench blocks in spawnSync while the builders fetch), and a build
 * whose context is a git URL of a 1,000-file repository (`git daemon`). Both on 127.0.0.1, which
 * dockerd's BuildKit and the tbuild daemon both reach from the host's namespace.
 */
async function remoteSources(dir: string): Promise<{ addUrlContext: string; gitUrl: string; servers: ChildProcess[] }> {
  const { randomBytes } = await import('node:crypto');
  const { openSync, writeSync, closeSync } = await import('node:fs');
  const www = join(dir, 'www');
  mkdirSync(www);
  const fd = openSync(join(www, 'big.bin'), 'w');
  for (let i = 0; i < 100; i++) writeSync(fd, randomBytes(1 << 20));
  closeSync(fd);
  const httpPort = 20000 + Math.floor(Math.random() * 20000);
  const http = spawn('python3', ['-m', 'http.server', '--bind', '127.0.0.1', '--directory', www, String(httpPort)], { stdio: 'ignore' });
  const addUrlContext = join(dir, 'add-url');
  mkdirSync(addUrlContext);
  writeFileSync(join(addUrlContext, 'Dockerfile'), `FROM busybox:local\nADD http://127.0.0.1:${httpPort}/big.bin /big.bin\n`);

  const repos = join(dir, 'git');
  const repo = join(repos, 'many.git');
  const work = join(dir, 'git-work');
  for (let d = 0; d < 20; d++) {
    mkdirSync(join(work, `dir${d}`), { recursive: true });
    for (let f = 0; f < 50; f++) writeFileSync(join(work, `dir${d}`, `f${f}.txt`), `${d}/${f} `.repeat(200));
  }
  writeFileSync(join(work, 'Dockerfile'), 'FROM busybox:local\nCOPY . /src\n');
  const git = (args: string[], cwd: string) => spawnSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@localhost', ...args], { cwd, stdio: 'ignore' });
  git(['init', '-q', '-b', 'main'], work);
  git(['add', '.'], work);
  git(['commit', '-q', '-m', 'files'], work);
  spawnSync('git', ['clone', '-q', '--bare', work, repo], { stdio: 'ignore' });
  const gitPort = 20000 + Math.floor(Math.random() * 20000);
  const daemon = spawn('git', ['daemon', '--reuseaddr', '--export-all', '--listen=127.0.0.1', `--port=${gitPort}`, `--base-path=${repos}`, repos], { stdio: 'ignore' });
  // both servers answer before the first build asks
  const { connect } = await import('node:net');
  for (const port of [httpPort, gitPort]) {
    for (let i = 0; ; i++) {
      const up = await new Promise<boolean>((r) => connect(port, '127.0.0.1').once('connect', function (this: import('node:net').Socket) { this.destroy(); r(true); }).once('error', () => r(false)));
      if (up) break;
      if (i > 100) throw new Error(`nothing answers on 127.0.0.1:${port}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { addUrlContext, gitUrl: `git://127.0.0.1:${gitPort}/many.git`, servers: [http, daemon] };
}
