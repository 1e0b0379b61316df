/**
 * The cost of the default seccomp profile: the same work with and without it, alternated so both
 * see the same machine load. Without = TBUILD_SECCOMP_PROFILE=unconfined (no default profile).
 * Target (issue #13): within 5% of the figures without it.
 */
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, type BenchRow } from './types.js';
import { releaseHelpersDone } from '../test/support/tmp.js';

const here = dirname(fileURLToPath(import.meta.url));
const CLI = join(here, '..', 'dist', 'cli.js');
const SHARED = join(here, '..', '..', 'shared');
const BUSYBOX = join(SHARED, 'images', 'busybox-local.docker.tar');
const COLD = join(SHARED, 'bench', 'cases', 'cold-simple');
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

function tb(root: string, args: string[], unconfined: boolean): number {
  const t0 = process.hrtime.bigint();
  const env = { ...process.env, ...(unconfined ? { TBUILD_SECCOMP_PROFILE: 'unconfined' } : {}) };
  const r = spawnSync(process.execPath, [CLI, '--root', root, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`tbuild ${args.join(' ')} failed (${r.status}): ${r.stderr.toString().slice(-1000)}`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/**
 * `on[i]` and `off[i]` ran back to back, so their ratio sees one machine state; the median of
 * those ratios is the figure (this machine's speed drifts by more than the effect between runs
 * minutes apart). The ratio of the two medians is in the note.
 */
function row(name: string, on: number[], off: number[], unit: string): BenchRow {
  const a = median(on);
  const b = median(off);
  const paired = median(on.map((t, i) => t / off[i]!));
  const scale = unit === 'ms' ? 1000 : 1;
  return {
    area: 'seccomp',
    name: `${name} with the default profile (median of ${on.length})`,
    value: a * scale,
    unit,
    target: '<= 1.05 x without (paired)',
    met: paired <= 1.05,
    note: `without: ${(b * scale).toFixed(unit === 'ms' ? 0 : 2)} ${unit}; ratio ${paired.toFixed(3)} (median of the ${on.length} back-to-back pairs), ${(a / b).toFixed(3)} (of the medians)`,
  };
}

export async function bench(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const ctx = await mkdtemp('/tmp/tbsc-case-');
  await cp(COLD, ctx, { recursive: true });
  const state = await mkdtemp('/tmp/tbsc-run-');
  try {
    // cold-simple: fresh root per build, only busybox loaded
    const on: number[] = [];
    const off: number[] = [];
    for (let i = 0; i <= RUNS; i++) {
      for (const unconfined of i % 2 ? [true, false] : [false, true]) {
        const root = await mkdtemp('/tmp/tbsc-');
        try {
          tb(root, ['load', '-i', BUSYBOX], false);
          const t = tb(root, ['build', '--progress', 'quiet', '-t', 'bench-seccomp', ctx], unconfined);
          if (i > 0) (unconfined ? off : on).push(t);
        } finally {
          // the CLI leaves its RUN namespaces to a detached release helper: let it finish first
          await releaseHelpersDone(root);
          await rm(root, { recursive: true, force: true });
        }
      }
    }
    rows.push(row('cold-simple build', on, off, 's'));

    tb(state, ['load', '-i', BUSYBOX], false);
    const ron: number[] = [];
    const roff: number[] = [];
    for (let i = 0; i <= RUNS * 2; i++) {
      for (const unconfined of i % 2 ? [true, false] : [false, true]) {
        const t = tb(state, ['run', '--rm', 'busybox:local', 'true'], unconfined);
        if (i > 0) (unconfined ? roff : ron).push(t);
      }
    }
    rows.push(row('`tbuild run --rm busybox true`', ron, roff, 'ms'));
  } finally {
    await rm(ctx, { recursive: true, force: true });
    await releaseHelpersDone(state);
    await rm(state, { recursive: true, force: true });
  }
  return rows;
}
