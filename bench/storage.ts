/**
 * Storage figures: layer commit (upperdir → tar + sha256, the describeDir hot path) and content-store
 * ingest throughput. Files are written once and read back from the page cache, as an upperdir is
 * right after a RUN.
 */
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { applyTar, describeDir, tarFromDir } from '../src/cache/layer/index.js';
import { openContentStore } from '../src/cache/content-store.js';
import { median, type BenchRow } from './types.js';

const MB = 1 << 20;

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

export async function bench(): Promise<BenchRow[]> {
  const root = await mkdtemp('/tmp/tbbench-');
  try {
    const upper = join(root, 'upper');
    await mkdir(join(upper, 'usr/lib'), { recursive: true });
    // a few big files, as a RUN that installs a toolchain leaves them: 4 × 50 MB
    const block = randomBytes(MB);
    for (let i = 0; i < 4; i++) {
      await writeFile(join(upper, 'usr/lib', `big${i}.so`), Buffer.concat(Array.from({ length: 50 }, () => block)));
    }
    for (let i = 0; i < 200; i++) await writeFile(join(upper, 'usr/lib', `small${i}`), randomBytes(4096));
    const total = 200 * MB + 200 * 4096;
    await describeDir(upper); // warm-up
    const secs: number[] = [];
    for (let i = 0; i < 5; i++) secs.push(await time(() => describeDir(upper)));
    const commitRate = total / MB / median(secs);

    // apply: the same 200 MB as one tar into a fresh upperdir (image pull / load path)
    const tarBytes: Buffer[] = [];
    for await (const c of tarFromDir(upper)) tarBytes.push(c as Buffer);
    const applySecs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const dst = join(root, `apply${i}`);
      applySecs.push(await time(() => applyTar(Readable.from(tarBytes), dst)));
      await rm(dst, { recursive: true, force: true });
    }
    const applyRate = total / MB / median(applySecs);

    // many small files: 5000 × 1 KiB in 50 directories, describe and apply
    const small = join(root, 'small');
    for (let d = 0; d < 50; d++) {
      await mkdir(join(small, `d${d}`), { recursive: true });
      for (let f = 0; f < 100; f++) await writeFile(join(small, `d${d}`, `f${f}`), randomBytes(1024));
    }
    const smallDescribe = await time(() => describeDir(small));
    const smallTar: Buffer[] = [];
    for await (const c of tarFromDir(small)) smallTar.push(c as Buffer);
    const smallApply = await time(() => applyTar(Readable.from(smallTar), join(root, 'small-apply')));

    const store = await openContentStore(join(root, 'state'));
    const chunks = Array.from({ length: 100 }, () => randomBytes(MB));
    const ingestSecs: number[] = [];
    for (let i = 0; i < 3; i++) {
      chunks[0] = randomBytes(MB); // a new blob each round
      ingestSecs.push(await time(() => store.ingest(Readable.from(chunks))));
    }
    const ingestRate = 100 / median(ingestSecs);

    return [
      {
        area: 'storage',
        name: 'layer commit (describeDir, 200 MB upperdir)',
        value: commitRate,
        unit: 'MB/s',
        target: '>= 500 MB/s',
        met: commitRate >= 500,
        note: `median of 5, ${secs.map((s) => (s * 1000).toFixed(0)).join('/')} ms`,
      },
      {
        area: 'storage',
        name: 'layer apply (200 MB tar → upperdir)',
        value: applyRate,
        unit: 'MB/s',
        note: `median of 3, ${applySecs.map((s) => (s * 1000).toFixed(0)).join('/')} ms`,
      },
      { area: 'storage', name: 'describeDir, 5000 small files', value: 5000 / smallDescribe, unit: 'files/s' },
      { area: 'storage', name: 'applyTar, 5000 small files', value: 5000 / smallApply, unit: 'files/s' },
      {
        area: 'storage',
        name: 'content store ingest (100 MB, sha256 + fsync)',
        value: ingestRate,
        unit: 'MB/s',
        note: `median of 3, ${ingestSecs.map((s) => (s * 1000).toFixed(0)).join('/')} ms`,
      },
    ];
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
