/**
 * `system verify` throughput (the hardening issue's target: a 5 GB store at ≥ 300 MB/s). The store
 * is filled with distinct blobs of 64 MiB (BENCH_VERIFY_GB, default 5) through the content store,
 * then verified by the engine; the blobs were just written, so much of them is in the page cache,
 * as on a machine that builds all day.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Engine } from '../src/engine.js';
import type { BenchRow } from './types.js';

const MB = 1 << 20;

export async function bench(): Promise<BenchRow[]> {
  const dir = await mkdtemp('/tmp/tbbench-verify-');
  const engine = await Engine.open({ root: join(dir, 'root') });
  try {
    const gb = Number(process.env.BENCH_VERIFY_GB ?? 5);
    const block = randomBytes(64 * MB);
    const blobs = Math.round((gb * 1024) / 64);
    for (let i = 0; i < blobs; i++) {
      // distinct blobs: the first bytes differ
      block.writeUInt32BE(i, 0);
      await engine.content.put(block);
    }
    const report = await engine.verify();
    if (report.problems.length) throw new Error(`verify found problems in a fresh store: ${JSON.stringify(report.problems[0])}`);
    const rate = report.blobBytes / MB / report.seconds;
    return [
      {
        area: 'verify',
        name: `system verify of a ${gb} GB store`,
        value: rate,
        unit: 'MB/s',
        target: '≥ 300',
        met: rate >= 300,
        note: `${report.blobs} blobs in ${report.seconds.toFixed(1)}s`,
      },
    ];
  } finally {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  }
}
