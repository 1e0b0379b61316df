import type { EngineApi } from '../api/types.js';
import type { WorkerDeps } from '../worker/types.js';
import type { VolumeRecord as Volume, Volumes } from '../containers/types.js';
import { loadImageArchive, saveDockerArchive } from '../images/docker-archive.js';
import { importRootfs } from '../images/import.js';
import { commitContainer } from '../containers/commit.js';
import { ControlServer } from '../control/server.js';
import { SERVER_VERSION } from '../api/wire/version.js';
import type { DaemonServices, DaemonVolumes, VolumeInfo } from './types.js';

function volumeInfo(v: Volume): VolumeInfo {
  return { Name: v.name, Driver: 'local', Mountpoint: v.mountpoint, CreatedAt: v.createdAt, Labels: v.labels, Scope: 'local', Options: {} };
}

/** The engine's volumes (the one store of its root; the container manager answers "in use"). */
function volumesFor(store: Volumes): DaemonVolumes {
  return {
    async create(name, labels) {
      const { volume, created } = await store.create(name, labels);
      return { info: volumeInfo(volume), created };
    },
    list: async () => (await store.list()).map(volumeInfo),
    inspect: async (name) => volumeInfo(await store.inspect(name)),
    remove: (name, force) => store.remove(name, force),
    prune: (opts) => store.prune(opts),
    inUse: (name) => store.inUse(name),
  };
}

/** What the daemon serves for one engine. */
export function servicesFor(engine: EngineApi & WorkerDeps, opts: { allowedEntitlements?: string[]; log?: (line: string) => void } = {}): DaemonServices {
  return {
    engine,
    ...(opts.allowedEntitlements ? { allowedEntitlements: opts.allowedEntitlements } : {}),
    buildkit: new ControlServer(engine, { version: SERVER_VERSION, ...(opts.log ? { log: opts.log } : {}), ...(opts.allowedEntitlements ? { allowedEntitlements: opts.allowedEntitlements } : {}) }),
    ...(engine.volumes ? { volumes: volumesFor(engine.volumes) } : {}),
    archives: {
      save: (refs) => saveDockerArchive(engine, refs),
      async load(tar) {
        const loaded = await loadImageArchive(engine, tar);
        return loaded.flatMap((img) => (img.names.length ? img.names : [img.id]));
      },
      commit: (container, opts) => commitContainer(engine, container, opts),
      importTar: (tar, opts) => importRootfs(engine, tar, { name: opts.ref, changes: opts.changes, message: opts.message, ...(opts.platform ? { platform: opts.platform } : {}) }),
    },
  };
}
