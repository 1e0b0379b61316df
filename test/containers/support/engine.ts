import { createReadStream } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import type { EngineParts } from '../../../src/engine.js';
import { openContentStore } from '../../../src/cache/content-store.js';
import { openSnapshotter } from '../../../src/cache/snapshotter.js';
import { layerConverter } from '../../../src/cache/layer/index.js';
import { openCacheIndex } from '../../../src/cache/cache-index.js';
import { openImageStore } from '../../../src/exporter/image-store.js';
import { loadImageArchive } from '../../../src/exporter/docker-archive.js';
import { createRuncExecutor } from '../../../src/exec/runc.js';
import { BUSYBOX_TAR } from '../../support/cli.js';

/** The engine parts for a state root, without the solver (containers need none of it). */
export async function openParts(root: string): Promise<EngineParts> {
  const content = await openContentStore(root);
  const snapshots = await openSnapshotter(root);
  const cacheIndex = await openCacheIndex(root);
  const images = await openImageStore({ root, content, snapshots, layers: layerConverter });
  const executor = createRuncExecutor({ root, runtime: 'runc' });
  return { root, content, snapshots, layers: layerConverter, cacheIndex, images, executor };
}

/** Load busybox:local from the shared docker-archive. */
export async function loadBusybox(parts: EngineParts): Promise<void> {
  await loadImageArchive(parts, createReadStream(BUSYBOX_TAR));
}

/** Processes whose command line mentions `text` (e.g. a temp root: shims carry it in argv). */
export async function processesMentioning(text: string): Promise<number[]> {
  const out: number[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(text)) out.push(Number(p));
  }
  return out;
}
