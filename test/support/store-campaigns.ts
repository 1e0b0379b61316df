import { spawn } from 'node:child_process';
import { lstat, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CliResult } from './cli.js';
import { mountsUnder } from './tmp.js';
import type { VerifyReport } from '../../src/verify/types.js';

/**
 * The hardening issue's campaigns against one state root, shared by the suite (short runs) and
 * `npm run stress` (the sizes). `cli` runs one tbuild command in a process of its own;
 * `viaDaemon` asks for it to go through a daemon on the root when the caller runs one.
 */
export type CampaignCli = (args: string[], opts?: { viaDaemon?: boolean }) => Promise<CliResult>;

export interface ConcurrencyResult {
  commands: number;
  /** `exit N: command: stderr` of each command that failed. */
  failures: string[];
  /** Tags that should be there afterwards and are not. */
  lostTags: string[];
  /** Built images whose layers cannot be read back (`save` fails). */
  unreadable: string[];
  verify: VerifyReport;
}

/**
 * Many CLI processes at once on one root, mixing build, tag, rmi, load, save and prune (only
 * prunes that leave tagged images alone: `image prune -a` removes tags by design).
 */
export async function concurrencyCampaign(opts: { dir: string; cli: CampaignCli; processes: number; busyboxTar: string }): Promise<ConcurrencyResult> {
  const { dir, cli } = opts;
  const must = async (args: string[]) => {
    const r = await cli(args);
    if (r.code !== 0) throw new Error(`setup: tbuild ${args.join(' ')}: ${r.stderr}`);
  };
  await must(['load', '-i', opts.busyboxTar]);
  const n = Math.max(8, opts.processes);
  const counts = { build: Math.ceil(n * 0.4), tag: Math.ceil(n * 0.2), rmi: Math.ceil(n * 0.1), save: Math.ceil(n * 0.1), load: Math.ceil(n * 0.1) };
  for (let i = 0; i < counts.rmi; i++) await must(['tag', 'busybox:local', `gone${i}:x`]);
  const jobs: Array<{ args: string[]; viaDaemon: boolean }> = [];
  for (let i = 0; i < counts.build; i++) {
    const ctx = join(dir, `ctx${i}`);
    await mkdir(ctx, { recursive: true });
    // a step every build shares (the same cache key made by several processes at once), then its own
    await writeFile(join(ctx, 'Dockerfile'), `FROM busybox:local\nRUN echo shared > /shared\nRUN echo ${i} > /mine\n`);
    jobs.push({ args: ['build', '-q', '--network', 'none', '-t', `built${i}:x`, ctx], viaDaemon: i % 3 === 2 });
  }
  for (let i = 0; i < counts.tag; i++) jobs.push({ args: ['tag', 'busybox:local', `named${i}:x`], viaDaemon: i % 2 === 1 });
  for (let i = 0; i < counts.rmi; i++) jobs.push({ args: ['rmi', `gone${i}:x`], viaDaemon: false });
  for (let i = 0; i < counts.save; i++) jobs.push({ args: ['save', '-o', join(dir, `saved${i}.tar`), 'busybox:local'], viaDaemon: false });
  for (let i = 0; i < counts.load; i++) jobs.push({ args: ['load', '-i', opts.busyboxTar], viaDaemon: i % 2 === 1 });
  while (jobs.length < n) jobs.push({ args: jobs.length % 2 ? ['builder', 'prune', '-a', '-f'] : ['image', 'prune', '-f'], viaDaemon: false });
  const results = await Promise.all(jobs.map(async (j) => ({ j, r: await cli(j.args, { viaDaemon: j.viaDaemon }) })));
  const failures = results.filter(({ r }) => r.code !== 0).map(({ j, r }) => `exit ${r.code}: ${j.args.join(' ')}: ${r.stderr.trim().split('\n').pop()}`);
  const listed = new Set((await cli(['images', '--format', '{{.Repository}}:{{.Tag}}'])).stdout.trim().split('\n'));
  const want = [
    'busybox:local',
    ...Array.from({ length: counts.build }, (_, i) => `built${i}:x`),
    ...Array.from({ length: counts.tag }, (_, i) => `named${i}:x`),
  ];
  const lostTags = want.filter((t) => !listed.has(t));
  const gone = Array.from({ length: counts.rmi }, (_, i) => `gone${i}:x`).filter((t) => listed.has(t));
  if (gone.length) failures.push(`rmi reported success but ${gone.join(', ')} are still there`);
  const unreadable: string[] = [];
  for (let i = 0; i < counts.build; i++) {
    const r = await cli(['save', '-o', join(dir, `check${i}.tar`), `built${i}:x`]);
    if (r.code !== 0) unreadable.push(`built${i}:x: ${r.stderr.trim()}`);
  }
  const v = await cli(['system', 'verify', '--format', 'json']);
  return { commands: jobs.length, failures, lostTags, unreadable, verify: JSON.parse(v.stdout) as VerifyReport };
}

export interface CrashResult {
  kills: number;
  /** What a fresh `system verify` still found after the kills (it sweeps dead owners' state first). */
  verify: VerifyReport;
  /** Mount points under the root after that open. */
  mounts: string[];
  /** Entries left in the root's scratch directories after that open. */
  scratch: string[];
  /** Files on the root's own filesystem holding the build secret, looked for before any clean-up. */
  secretFiles: string[];
  /** What the build printed when run again after the campaign (it should say `ok`). */
  rebuilt: string;
  /** The state of the container commits were killed on, after the next open (it should run). */
  committedContainer: string;
}

/**
 * `kill -9` of CLI processes at random points of builds (with a secret) and loads, then: what a
 * fresh open leaves, whether the secret ever touched the disk, and whether the next build is right.
 */
export async function crashCampaign(opts: {
  dir: string;
  root: string;
  cli: CampaignCli;
  /** Start one CLI process (embedded engine on the root); the campaign kills it by its pid. */
  start: (args: string[]) => { pid: number; exited: Promise<void> };
  kills: number;
  busyboxTar: string;
  random?: () => number;
  /** A plain registry on loopback (`127.0.0.1:PORT`): pushes and pulls are killed too. */
  registry?: string;
}): Promise<CrashResult> {
  const { dir, root, cli } = opts;
  const random = opts.random ?? Math.random;
  const secret = `tbuild-secret-${Date.now().toString(36)}-${Math.floor(random() * 1e9).toString(36)}`;
  await writeFile(join(dir, 'secret.txt'), secret);
  const ctx = join(dir, 'crash-ctx');
  await mkdir(ctx, { recursive: true });
  await writeFile(join(ctx, 'data.txt'), 'data\n');
  await writeFile(
    join(ctx, 'Dockerfile'),
    'FROM busybox:local\nCOPY data.txt /data.txt\nARG N\nRUN --mount=type=secret,id=s,target=/run/s test -s /run/s && sleep 0.3 && echo $N > /n\nRUN cat /data.txt > /out && echo ok >> /out\n',
  );
  const r0 = await cli(['load', '-i', opts.busyboxTar]);
  if (r0.code !== 0) throw new Error(`setup: ${r0.stderr}`);
  // a running container with 32 MB of its own, so a commit of it takes a moment
  const ctr = await cli(['run', '-d', '--name', 'crash-ctr', '--network', 'none', 'busybox:local', 'sh', '-c', 'head -c 33554432 /dev/urandom > /big && touch /ready && sleep 3600']);
  if (ctr.code !== 0) throw new Error(`setup: ${ctr.stderr}`);
  for (let i = 0; i < 300 && (await cli(['exec', 'crash-ctr', 'test', '-e', '/ready'])).code !== 0; i++) await new Promise((r) => setTimeout(r, 100));
  const remote = opts.registry ? `${opts.registry}/crash/big` : undefined;
  if (remote) {
    // an image with a 20 MB layer in the registry, to push again under new names and to pull
    const big = join(dir, 'crash-big');
    await mkdir(big, { recursive: true });
    await writeFile(join(big, 'Dockerfile'), 'FROM busybox:local\nRUN head -c 20000000 /dev/urandom > /big\n');
    for (const args of [['build', '-q', '--network', 'none', '-t', `${remote}:seed`, big], ['push', `${remote}:seed`]]) {
      const r = await cli(args);
      if (r.code !== 0) throw new Error(`setup: tbuild ${args.join(' ')}: ${r.stderr}`);
    }
  }
  const secretFiles = new Set<string>();
  for (let k = 0; k < opts.kills; k++) {
    if (remote && k % 6 === 5) await cli(['rmi', `${remote}:seed`]);
    const args = remote && k % 6 === 4
      ? (await cli(['tag', `${remote}:seed`, `${remote}:k${k}`]), ['push', `${remote}:k${k}`])
      : remote && k % 6 === 5
      ? ['pull', `${remote}:seed`]
      : k % 4 === 3
      ? ['commit', 'crash-ctr', `crash-commit${k}:x`]
      : k % 4 === 2
      ? ['load', '-i', opts.busyboxTar]
      : ['build', '-q', '--network', 'none', '--secret', `id=s,src=${join(dir, 'secret.txt')}`, '--build-arg', `N=${k}`, '-t', `crash${k}:x`, ctx];
    const child = opts.start(args);
    // Every other build is killed while its RUN step holds the secret; the rest at a random point.
    if (args[0] === 'build' && k % 2 === 0) await Promise.race([child.exited, secretInUse(root).then(() => new Promise((r) => setTimeout(r, 100)))]);
    else await Promise.race([child.exited, new Promise((r) => setTimeout(r, 300 + random() * 1700))]);
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // it had finished already
    }
    await child.exited;
    for (const f of await filesHolding(root, secret)) secretFiles.add(f);
  }
  // The RUN steps of killed builds finish on their own (runc outlives the CLI); wait for them to
  // let go of their mounts before the next open sweeps.
  await waitForRuncToFinish(root);
  const v = await cli(['system', 'verify', '--format', 'json']);
  const committedContainer = JSON.parse((await cli(['inspect', '--format', '{{json .State.Status}}', 'crash-ctr'])).stdout || '""') as string;
  await cli(['rm', '-f', 'crash-ctr']);
  const scratch: string[] = [];
  for (const d of [['tmp'], ['images', 'tmp'], ['content', 'ingest'], ['registry', 'tmp']]) {
    for (const n of await readdir(join(root, ...d)).catch(() => [] as string[])) scratch.push(join(...d, n));
  }
  const mounts = await mountsUnder(root);
  const rebuilt = await cli(['build', '-q', '--network', 'none', '--secret', `id=s,src=${join(dir, 'secret.txt')}`, '--build-arg', 'N=final', '-t', 'crash-final:x', ctx]);
  const out = rebuilt.code === 0 ? await cli(['run', '--rm', '--network', 'none', 'crash-final:x', 'cat', '/out']) : rebuilt;
  return {
    kills: opts.kills,
    verify: JSON.parse(v.stdout) as VerifyReport,
    mounts,
    scratch,
    secretFiles: [...secretFiles],
    rebuilt: out.code === 0 ? out.stdout : `exit ${out.code}: ${out.stderr}`,
    committedContainer,
  };
}

/** Regular files on `root`'s own filesystem (not in tmpfs or overlay mounts under it) containing `needle`. */
async function filesHolding(root: string, needle: string): Promise<string[]> {
  const dev = (await lstat(root)).dev;
  const out: string[] = [];
  const visit = async (p: string): Promise<void> => {
    const st = await lstat(p).catch(() => undefined);
    if (!st || st.dev !== dev) return;
    if (st.isDirectory()) {
      for (const n of await readdir(p).catch(() => [] as string[])) await visit(join(p, n));
    } else if (st.isFile() && st.size < 1 << 20) {
      const data = await readFile(p).catch(() => undefined);
      if (data?.includes(needle)) out.push(p);
    }
  };
  await visit(root);
  return out;
}

/** Resolves once a build's scratch holds a secret's directory (`tmp/b-…/s-…`), i.e. mid-RUN. */
async function secretInUse(root: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    for (const b of await readdir(join(root, 'tmp')).catch(() => [] as string[])) {
      if ((await readdir(join(root, 'tmp', b)).catch(() => [] as string[])).some((n) => n.startsWith('s-'))) return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Until no runc process started for this root is left (they end with their short RUN steps). */
async function waitForRuncToFinish(root: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const busy = await runcFor(root);
    if (!busy) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function runcFor(root: string): Promise<boolean> {
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes('runc') && cmd.includes(root)) return true;
  }
  return false;
}

/** A CLI process on the embedded engine for `crashCampaign`'s `start`. */
export function startCliProcess(argv: string[], env?: NodeJS.ProcessEnv): { pid: number; exited: Promise<void> } {
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'ignore', 'ignore'], env: { ...process.env, ...env } });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { pid: child.pid!, exited };
}
