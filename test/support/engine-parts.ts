import { createReadStream } from 'node:fs';
import { openEngineParts, type EngineParts } from '../../src/engine.js';
import { loadImageArchive } from '../../src/images/docker-archive.js';
import { BUSYBOX_TAR } from './cli.js';

/** The parts of an engine on `root`, without the container manager (the solver needs none). */
export function openParts(root: string): Promise<EngineParts> {
  return openEngineParts({ root, runtime: 'runc' });
}

/** Load busybox:local from the shared docker-archive. */
export async function loadBusybox(parts: EngineParts): Promise<void> {
  await loadImageArchive(parts, createReadStream(BUSYBOX_TAR));
}
