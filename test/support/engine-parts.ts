import { createReadStream } from 'node:fs';
import type { EngineParts } from '../../src/engine.js';
import { openContentStore } from '../../src/cache/content-store.js';
import { openSnapshotter } from '../../src/cache/snapshotter.js';
import { layerConverter } from '../../src/cache/layer/index.js';
import { openCacheIndex } from '../../src/cache/cache-index.js';
import { openImageStore } from '../../src/exporter/image-store.js';
import { createRuncExecutor } from '../../src/exec/runc.js';
import { loadImageArchive } from '../../src/exporter/docker-archive.js';
import { BUSYBOX_TAR } from './cli.js';

/** The parts of an engine on `root`, without the container manager (the solver needs none). */
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
