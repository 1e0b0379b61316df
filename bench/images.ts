/**
 * Image store figures: `load` of the busybox docker-archive into a fresh state root (stage, apply
 * the layer into a snapshot, keep the diffID blob, store config/manifest/names), a re-load into a
 * root that already has it (layers skipped by chain id), and `save` of it as a docker-archive.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { openContentStore } from '../src/cache/content-store.js';
import { openSnapshotter } from '../src/cache/snapshotter.js';
import { layerConverter } from '../src/cache/layer/index.js';
import { openImageStore } from '../src/images/image-store.js';
import { loadImageArchive, saveDockerArchive } from '../src/images/docker-archive.js';
import type { ArchiveContext } from '../src/images/load-plan.js';
import { median, type BenchRow } from './types.js';

const BUSYBOX = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..', 'shared', 'images', 'busybox-local.docker.tar');

async function open(root: string): Promise<ArchiveContext> {
  const content = await openContentStore(root);
  const snapshots = await openSnapshotter(root);
  const images = await openImageStore({ root, content, snapshots, layers: layerConverter });
  return { root, content, snapshots, layers: layerConverter, images };
}

async function ms(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const sink = (): Writable => new Writable({ write: (_c, _e, cb) => cb() });

export async function bench(): Promise<BenchRow[]> {
  const base = await mkdtemp('/tmp/tbbench-img-');
  try {
    const RUNS = 7;
    const load: number[] = [];
    const reload: number[] = [];
    const save: number[] = [];
    let last: ArchiveContext | undefined;
    for (let i = 0; i < RUNS + 1; i++) {
      const ctx = await open(join(base, String(i)));
      const t = await ms(() => loadImageArchive(ctx, createReadStream(BUSYBOX)));
      const r = await ms(() => loadImageArchive(ctx, createReadStream(BUSYBOX)));
      const s = await ms(async () => pipeline(await saveDockerArchive(ctx, ['busybox:local']), sink()));
      if (i > 0) {
        // the first round warms up module loading and the page cache
        load.push(t);
        reload.push(r);
        save.push(s);
      }
      last = ctx;
    }
    void last;
    const fmt = (xs: number[]): string => `median of ${xs.length}: ${xs.map((x) => x.toFixed(0)).join('/')} ms`;
    const row = (name: string, xs: number[], target: number): BenchRow => ({
      area: 'images',
      name,
      value: median(xs),
      unit: 'ms',
      target: `<= ${target} ms`,
      met: median(xs) <= target,
      note: fmt(xs),
    });
    return [
      row('load busybox docker-archive (fresh root)', load, 150),
      row('load busybox again (layers present)', reload, 60),
      row('save busybox as docker-archive', save, 60),
    ];
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}
