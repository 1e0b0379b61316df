/**
 * Build figures: the shared bench cases (/work/shared/bench/cases) built with the tbuild CLI
 * (`node dist/cli.js`, the whole client command, as the reference figures are), median of a few
 * runs. Cold cases start from a fresh state root with only busybox:local loaded. When a Docker
 * daemon with BuildKit is reachable (DOCKER_HOST, see /work/shared/bench/README.md), BuildKit is
 * timed in the same run, alternating with tbuild, and the ratio is reported. Both build with
 * `--network host`, as the shared bench README asks (its dockerd has no bridge for BuildKit).
 */
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, rm, appendFile, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, type BenchRow } from './types.js';
import { releaseHelpersDone } from '../test/support/tmp.js';

const here = dirname(fileURLToPath(import.meta.url));
const CLI = join(here, '..', 'dist', 'cli.js');
const SHARED = join(here, '..', '..', 'shared');
const CASES = join(SHARED, 'bench', 'cases');
const BUSYBOX = join(SHARED, 'images', 'busybox-local.docker.tar');
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

/** BuildKit's figures from the shared README, used when no daemon is given. */
const REFERENCE: Record<string, number> = {
  'cold-simple': 1.24,
  'many-files': 1.83,
  'multistage-parallel': 2.6,
  'cache-hit': 0.21,
  'cache-bust-late': 0.33,
  'big-layer': 1.28,
};
const TARGET: Record<string, { max?: number; ratio?: number }> = {
  'cold-simple': { ratio: 1.0 },
  'multistage-parallel': { max: 2.6 },
  'cache-hit': { max: 0.3 },
  'cache-bust-late': { ratio: 1.0 },
  'many-files': { ratio: 1.0 },
};

function sh(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'ignore', 'pipe'] });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr?.toString().slice(-2000)}`);
  return secs;
}

const tb = (root: string, args: string[]): number => sh(process.execPath, [CLI, '--root', root, ...args]);

async function freshRoot(): Promise<string> {
  const root = await mkdtemp('/tmp/tbb-');
  tb(root, ['load', '-i', BUSYBOX]);
  return root;
}

async function dropRoot(root: string): Promise<void> {
  // the CLI hands its RUN steps' network namespaces to a detached helper that releases them
  // after it exits: wait for it, or rm meets a namespace still mounted
  await releaseHelpersDone(root);
  await rm(root, { recursive: true, force: true });
}

/** A working copy of a case (generated files made, late.txt restorable). */
async function caseCopy(name: string): Promise<string> {
  const dir = await mkdtemp('/tmp/tbcase-');
  await cp(join(CASES, name), dir, { recursive: true });
  if (existsSync(join(dir, 'gen.sh'))) sh('sh', ['gen.sh'], { cwd: dir });
  return dir;
}

const docker = process.env.DOCKER_HOST ? (process.env.DOCKER ?? 'docker') : undefined;
const dk = (args: string[]): number => sh(docker!, args);

interface Timed {
  tbuild: number[];
  buildkit: number[];
}

async function cold(name: string, ctx: string): Promise<Timed> {
  const out: Timed = { tbuild: [], buildkit: [] };
  for (let i = 0; i <= RUNS; i++) {
    const root = await freshRoot();
    try {
      const t = tb(root, ['build', '--network', 'host', '--progress', 'quiet', '-t', `bench-${name}`, ctx]);
      if (i > 0) out.tbuild.push(t);
    } finally {
      await dropRoot(root);
    }
    if (docker) {
      dk(['builder', 'prune', '-af']);
      const t = dk(['build', '--network=host', '-q', '-t', `bench-${name}`, ctx]);
      if (i > 0) out.buildkit.push(t);
    }
  }
  return out;
}

/** cache-hit and cache-bust-late on cold-simple: one warm state root, then timed rebuilds. */
async function warm(ctx: string): Promise<{ hit: Timed; late: Timed }> {
  const hit: Timed = { tbuild: [], buildkit: [] };
  const late: Timed = { tbuild: [], buildkit: [] };
  const root = await freshRoot();
  const late0 = await readFile(join(ctx, 'late.txt'));
  try {
    tb(root, ['build', '--network', 'host', '--progress', 'quiet', '-t', 'bench-warm', ctx]);
    if (docker) dk(['build', '--network=host', '-q', '-t', 'bench-warm', ctx]);
    for (let i = 0; i <= RUNS; i++) {
      const t = tb(root, ['build', '--network', 'host', '--progress', 'quiet', '-t', 'bench-warm', ctx]);
      if (i > 0) hit.tbuild.push(t);
      if (docker) {
        const d = dk(['build', '--network=host', '-q', '-t', 'bench-warm', ctx]);
        if (i > 0) hit.buildkit.push(d);
      }
    }
    for (let i = 0; i <= RUNS; i++) {
      await appendFile(join(ctx, 'late.txt'), `line ${Date.now()} ${i}\n`);
      const t = tb(root, ['build', '--network', 'host', '--progress', 'quiet', '-t', 'bench-warm', ctx]);
      if (i > 0) late.tbuild.push(t);
      if (docker) {
        const d = dk(['build', '--network=host', '-q', '-t', 'bench-warm', ctx]);
        if (i > 0) late.buildkit.push(d);
      }
    }
  } finally {
    await writeFile(join(ctx, 'late.txt'), late0);
    await dropRoot(root);
  }
  return { hit, late };
}

function row(name: string, t: Timed): BenchRow {
  const value = median(t.tbuild);
  const ref = t.buildkit.length ? median(t.buildkit) : REFERENCE[name];
  const ratio = ref ? value / ref : undefined;
  const target = TARGET[name];
  let met: boolean | undefined;
  let targetText: string | undefined;
  if (target?.max !== undefined) {
    met = value <= target.max;
    targetText = `<= ${target.max} s`;
  } else if (target?.ratio !== undefined && ratio !== undefined) {
    met = ratio <= target.ratio;
    targetText = `<= ${target.ratio}x BuildKit`;
  }
  const src = t.buildkit.length ? 'BuildKit this run' : 'BuildKit ref (README)';
  return {
    area: 'build',
    name,
    value,
    unit: 's',
    target: targetText,
    met,
    note: ref ? `${src} ${ref.toFixed(2)} s, ratio ${ratio!.toFixed(2)}; n=${t.tbuild.length}` : `n=${t.tbuild.length}`,
  };
}

export async function bench(opts: { only?: string[] } = {}): Promise<BenchRow[]> {
  if (!existsSync(CLI)) throw new Error(`${CLI} missing: run npx tsc -p tsconfig.build.json first`);
  const want = (n: string): boolean => !opts.only?.some((o) => o !== 'build') || opts.only.includes(n);
  const rows: BenchRow[] = [];
  for (const name of ['cold-simple', 'many-files', 'multistage-parallel', 'big-layer']) {
    if (!want(name)) continue;
    const ctx = await caseCopy(name);
    try {
      rows.push(row(name, await cold(name, ctx)));
    } finally {
      await rm(ctx, { recursive: true, force: true });
    }
  }
  if (want('cache-hit') || want('cache-bust-late')) {
    const ctx = await caseCopy('cold-simple');
    try {
      const { hit, late } = await warm(ctx);
      rows.push(row('cache-hit', hit), row('cache-bust-late', late));
    } finally {
      await rm(ctx, { recursive: true, force: true });
    }
  }
  // debian-apt needs debian:bookworm-local (made by setup-peers.sh --debian); skipped otherwise.
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await bench({ only: process.argv.slice(2) })) console.log(`${r.name}\t${r.value.toFixed(2)} s\t${r.target ?? ''}\t${r.met ?? ''}\t${r.note ?? ''}`);
}
