/**
 * File-op figures for the `many-files` case (5,000 small files in 50 dirs): context checksum cold
 * (every file read) and warm (stat cache), and the COPY itself into an empty directory.
 * BuildKit's whole `many-files` build takes 1.83 s; these steps are the part of it we own.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { checksumSources } from '../src/session/checksum.js';
import { openContext } from '../src/session/open.js';
import { copyFiles } from '../src/worker/file/copy.js';
import { median, type BenchRow } from './types.js';

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** Same shape as bench/cases/many-files/gen.sh: 50 dirs × 100 files of 20–160 bytes. */
async function generate(dir: string): Promise<void> {
  await writeFile(join(dir, 'Dockerfile'), 'FROM busybox:local\nCOPY files/ /data/files/\n');
  for (let d = 0; d < 50; d++) {
    const sub = join(dir, 'files', `dir${String(d).padStart(2, '0')}`);
    await mkdir(sub, { recursive: true });
    await Promise.all(
      Array.from({ length: 100 }, (_, f) =>
        writeFile(join(sub, `f${String(f).padStart(3, '0')}.txt`), `file ${f} of dir ${d}\n${'x'.repeat((d * 100 + f) % 140)}\n`),
      ),
    );
  }
}

export async function bench(): Promise<BenchRow[]> {
  const base = await mkdtemp('/tmp/tbbench-files-');
  // Lay destinations out as the snapshotter lays out layers (an ext4 "top directory", children
  // under fresh random names): in one shared /tmp region, file creation right after other
  // deletes measures ext4's free-inode scan, not this code.
  spawnSync('chattr', ['+T', base]);
  try {
    const ctxDir = join(base, 'ctx');
    const root = join(base, 'root');
    await mkdir(ctxDir);
    await generate(ctxDir);
    await sleep(200); // past the stat cache's racy window, as a real context is

    const cold: number[] = [];
    const warm: number[] = [];
    const copy: number[] = [];
    for (let i = 0; i < 5; i++) {
      await rm(join(root, 'cache'), { recursive: true, force: true });
      let ctx = await openContext(ctxDir, { root });
      cold.push(await time(() => checksumSources(ctx, ['files/'])));
      await ctx.dispose();
      ctx = await openContext(ctxDir, { root });
      warm.push(await time(() => checksumSources(ctx, ['files/'])));
      const dest = join(base, `dest-${randomBytes(6).toString('hex')}`);
      await mkdir(dest);
      copy.push(await time(() => copyFiles({ srcRoot: ctx.dir, ignore: ctx.ignore, sources: ['files/'], dest: '/data/files/', destRoot: dest })));
      await ctx.dispose();
      // Destinations are removed only at the end: ext4 mounted with `discard` makes file creation
      // wait behind the journal commit of a large delete, which no real build does before a COPY.
    }
    const total = median(cold) + median(copy);
    const row = (name: string, xs: number[], target?: number): BenchRow => ({
      area: 'fileops',
      name,
      value: median(xs),
      unit: 'ms',
      ...(target !== undefined ? { target: `<= ${target} ms`, met: median(xs) <= target } : {}),
      // The min shows the cost on a quiet disk; shared CI disks add bursts of journal contention.
      note: `median of ${xs.length} (min ${Math.min(...xs).toFixed(0)}): ${xs.map((x) => x.toFixed(0)).join('/')}`,
    });
    return [
      row('many-files: context checksum, cold (5,000 files)', cold),
      row('many-files: context checksum, stat cache warm', warm),
      row('many-files: COPY files/ (5,000 files)', copy),
      {
        area: 'fileops',
        name: 'many-files: cold checksum + COPY',
        value: total,
        unit: 'ms',
        // No target of its own: the target is the whole many-files build (bench/build.ts).
        note: 'part of the many-files build, whose target is <= 1x BuildKit (see the build rows)',
      },
    ];
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await bench()) console.log(`${r.name}: ${r.value.toFixed(1)} ${r.unit} ${r.note ?? ''}`);
}
