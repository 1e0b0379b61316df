import { TbuildError } from '../../errors.js';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ApplyTarOptions, LayerConverter, LayerDescriptor, LayerTarOptions } from '../types.js';
import type { Digest } from '../../util/digest.js';
import { layerTarChunks } from './tar-from-dir.js';
import { applyTar } from './apply.js';
import { applyTarOffThread, warmWorkers } from './apply-worker.js';

export { applyTar, cleanEntryPath } from './apply.js';
export { layerTarChunks, WHITEOUT_PREFIX, OPAQUE_MARKER } from './tar-from-dir.js';
export { decompress, detectCompression, type Compression } from './decompress.js';

/** sha256 and size of a layer tar of `dir`, hashing the bytes as they are produced, keeping none. */
export async function describeDir(dir: string, opts?: LayerTarOptions): Promise<LayerDescriptor> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of layerTarChunks(dir, opts, true)) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { diffId: `sha256:${hash.digest('hex')}` as Digest, size };
}

export function tarFromDir(dir: string, opts?: LayerTarOptions): Readable {
  return Readable.from(layerTarChunks(dir, opts, false), { objectMode: false, highWaterMark: 1 << 20 });
}

export const layerConverter: LayerConverter = {
  tarFromDir,
  describeDir,
  applyTar: (tar: Readable | AsyncIterable<Buffer>, dir: string, opts?: ApplyTarOptions) => {
    if (opts?.offThread) return applyTarOffThread(tar, dir, opts);
    // on this thread the caller may as well hash the bytes it hands over itself
    if (opts?.digestInput) return Promise.reject(new TbuildError('TB_INTERNAL', 'digestInput is only for an extraction off this thread'));
    return applyTar(tar instanceof Readable ? tar : Readable.from(tar, { objectMode: false }), dir, opts);
  },
  warmOffThread: warmWorkers,
};
