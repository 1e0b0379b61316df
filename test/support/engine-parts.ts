import { createReadStream } from 'node:fs';
import { openEngineParts, type EngineParts } from '../../src/engine.js';
import { loadImageArchive } from '../../src/images/docker-archive.js';
import { createRuncExecutor } from '../../src/exec/runc.js';
import { openVolumeStore } from '../../src/volumes/store.js';
import { SolverShared } from '../../src/solver/scheduler.js';
import type { BuildDeps } from '../../src/build/types.js';
import type { ContainerDeps } from '../../src/containers/types.js';
import { openContainerManager, type LocalContainerManager } from '../../src/containers/manager.js';
import { BUSYBOX_TAR } from './cli.js';

/** The parts of an engine on `root`, without the container manager (the solver needs none). */
export function openParts(root: string): Promise<EngineParts> {
  return openEngineParts({ root, runtime: 'runc' });
}

/** What `build()` needs, wired the way `Engine.open` wires it. */
export function buildDeps(parts: EngineParts): BuildDeps {
  return { ...parts, solver: new SolverShared(8) };
}

/** What the container manager needs, wired the way `Engine.open` wires it. */
export function containerDeps(parts: EngineParts): ContainerDeps {
  return { ...parts, runtime: createRuncExecutor({ root: parts.root, runtime: 'runc' }), volumes: openVolumeStore(parts.root) };
}

/** Load busybox:local from the test base image archive. */
export async function loadBusybox(parts: EngineParts): Promise<void> {
  await loadImageArchive(parts, createReadStream(BUSYBOX_TAR));
}

/** A container manager wired to the stores' in-use checks, as `Engine.open` wires it. */
export async function openManager(parts: EngineParts): Promise<LocalContainerManager> {
  const deps = containerDeps(parts);
  const mgr = await openContainerManager(deps);
  deps.volumes.setInUseCheck((name) => mgr.volumeUsers(name));
  parts.images.setInUseCheck((id) => mgr.imageUser(id));
  return mgr;
}
