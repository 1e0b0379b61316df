/**
 * What build records cost (issue 14). `Engine.build` starts a record before the build and waits
 * for it to be written after; what it adds to a build is that start, the handling of each event,
 * and that finish. Measured here on a real state root with the events of real builds of
 * cold-simple (captured once), replayed into the record store: with `--no-cache` (every step ran,
 * logs written) and with every step cached. Targets: ≤ 2% of the cold build, ≤ 5 ms on the hit.
 */
import { createReadStream, existsSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, type BenchRow } from './types.js';
import { Engine } from '../src/engine.js';
import type { ProgressEvent } from '../src/build/types.js';
import { releaseHelpersDone } from '../test/support/tmp.js';

const here = dirname(fileURLToPath(import.meta.url));
const SHARED = join(here, '..', '..', 'shared');
const BUSYBOX = join(SHARED, 'images', 'busybox-local.docker.tar');
const COLD = join(SHARED, 'bench', 'cases', 'cold-simple');
const RUNS = Number(process.env.BENCH_RUNS ?? 9);

export async function bench(): Promise<BenchRow[]> {
  if (!existsSync(BUSYBOX)) return [{ area: 'recording', name: 'skipped', value: NaN, unit: '', note: `no ${BUSYBOX}` }];
  const dir = await mkdtemp('/tmp/tbrec-');
  const ctx = join(dir, 'ctx');
  await cp(COLD, ctx, { recursive: true });
  const engine = await Engine.open({ root: join(dir, 'root') });
  try {
    await engine.load(createReadStream(BUSYBOX));
    const rows: BenchRow[] = [];
    for (const c of [
      { name: 'cold-simple (--no-cache)', noCache: true },
      { name: 'cold-simple, every step cached', noCache: false },
    ]) {
      const events: ProgressEvent[] = [];
      const builds: number[] = [];
      for (let i = 0; i < 3; i++) {
        events.length = 0;
        const t0 = process.hrtime.bigint();
        await engine.build({ context: ctx, network: 'none', noCache: c.noCache, onProgress: (e) => events.push(e) });
        builds.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      const costs: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const t0 = process.hrtime.bigint();
        const recorder = await engine.records.start({ dockerfile: 'Dockerfile', args: {}, tags: [] });
        for (const e of events) recorder.event(e);
        await recorder.finish({ result: { imageId: 'sha256:0', digest: 'sha256:0' } });
        costs.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      const cost = median(costs);
      const build = median(builds);
      const share = cost / build;
      rows.push({
        area: 'recording',
        name: `${c.name}: what the record adds (median of ${RUNS})`,
        value: cost,
        unit: 'ms',
        target: c.noCache ? '<= 2% of the build' : '<= 5 ms',
        met: c.noCache ? share <= 0.02 : cost <= 5,
        note: `${events.length} events; the build takes ${build.toFixed(0)} ms with it (${(share * 100).toFixed(1)}%)`,
      });
    }
    return rows;
  } finally {
    await engine.close();
    await releaseHelpersDone(dir);
    await rm(dir, { recursive: true, force: true });
  }
}
