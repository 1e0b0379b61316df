import type { Readable } from 'node:stream';
import type { Engine } from '../../engine.js';
import type { ImageRecord } from '../../images/types.js';
import { importRootfs, type ImportOptions } from '../../images/import.js';
import { isRemoteEngine } from './engine.js';

/** `tbuild import` on whichever engine the CLI has: POST /images/create?fromSrc=- or the local importer. */
export function importRootfsVia(engine: Engine, input: Readable, opts: ImportOptions): Promise<ImageRecord> {
  return isRemoteEngine(engine) ? engine.importImage(input, opts) : importRootfs(engine, input, opts);
}
