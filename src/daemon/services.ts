import type { Engine } from '../engine.js';
import { VolumeStore, type Volume } from '../containers/volumes.js';
import { loadImageArchive, saveDockerArchive } from '../exporter/docker-archive.js';
import { importRootfs } from '../exporter/import.js';
import { commitContainer } from './commit.js';
import type { DaemonServices, DaemonVolumes, VolumeInfo } from './types.js';

function volumeInfo(v: Volume): VolumeInfo {
  return { Name: v.name, Driver: 'local', Mountpoint: v.mountpoint, CreatedAt: v.createdAt, Labels: v.labels, Scope: 'local', Options: {} };
}

/** Volumes of one state root; "in use" is read from the containers' mounts. */
function volumesFor(engine: Engine): DaemonVolumes {
  const store = new VolumeStore(engine.root);
  store.setInUseCheck(async (name) =>
    (await engine.containers.list({ all: true }))
      .filter((c) => (c.options.mounts ?? []).some((m) => m.type === 'volume' && m.source === name))
      .map((c) => c.id),
  );
  return {
    async create(name, labels) {
      const { volume, created } = await store.create(name, labels);
      return { info: volumeInfo(volume), created };
    },
    list: async () => (await store.list()).map(volumeInfo),
    inspect: async (name) => volumeInfo(await store.inspect(name)),
    remove: (name, force) => store.remove(name, force),
    prune: (opts) => store.prune(opts),
  };
}

/** What the daemon serves for one engine. */
export function servicesFor(engine: Engine): DaemonServices {
  return {
    engine,
    volumes: volumesFor(engine),
    archives: {
      save: (refs) => saveDockerArchive(engine, refs),
      async load(tar) {
        const loaded = await loadImageArchive(engine, tar);
        return loaded.flatMap((img) => (img.names.length ? img.names : [img.id]));
      },
      commit: (container, opts) => commitContainer(engine, container, opts),
      importTar: (tar, opts) => importRootfs(engine, tar, { name: opts.ref, changes: opts.changes, message: opts.message }),
    },
  };
}
