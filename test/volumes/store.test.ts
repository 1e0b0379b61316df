import { describe, test, expect, beforeEach, afterEach } from 'vitest';
import { existsSync } from 'node:fs';
import { tempDir, isRoot } from '../support/tmp.js';
import { Engine } from '../../src/engine.js';
import { loadBusybox } from '../containers/support/engine.js';
import { VolumeStore } from '../../src/volumes/store.js';
import { isTbuildError } from '../../src/errors.js';

describe('VolumeStore', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let store: VolumeStore;
  let users: Record<string, string[]>;

  beforeEach(async () => {
    tmp = await tempDir('tbv-');
    store = new VolumeStore(tmp.path);
    users = {};
    store.setInUseCheck(async (n) => users[n] ?? []);
  });
  afterEach(() => tmp.cleanup());

  test('create, list, inspect, idempotent create, remove', async () => {
    const a = await store.create('data', { k: 'v' });
    expect(a.created).toBe(true);
    expect(a.volume).toMatchObject({ name: 'data', labels: { k: 'v' }, anonymous: false });
    expect(existsSync(a.volume.mountpoint)).toBe(true);
    expect((await store.create('data')).created).toBe(false);
    const anon = await store.create(undefined, {}, true);
    expect(anon.volume.name).toMatch(/^[a-f0-9]{64}$/);
    expect((await store.list()).map((v) => v.name).sort()).toEqual(['data', anon.volume.name].sort());
    await store.remove('data');
    const e = await store.inspect('data').catch((x: unknown) => x);
    expect(isTbuildError(e, 'TB_VOLUME_NOT_FOUND')).toBe(true);
    expect((e as Error).message).toBe('get data: no such volume');
  });

  test('bad names, in-use refusal, prune keeps named and used volumes', async () => {
    await expect(store.create('../x')).rejects.toThrow(/invalid characters/);
    await store.create('named');
    const used = (await store.create(undefined, {}, true)).volume.name;
    const free = (await store.create(undefined, {}, true)).volume.name;
    users[used] = ['c1'];
    const e = await store.remove(used).catch((x: unknown) => x);
    expect(isTbuildError(e, 'TB_VOLUME_IN_USE')).toBe(true);
    expect((await store.prune()).deleted).toEqual([free]);
    expect((await store.list()).map((v) => v.name).sort()).toEqual(['named', used].sort());
    expect((await store.prune({ all: true })).deleted).toEqual(['named']);
    await store.remove(used, true);
    expect(await store.list()).toEqual([]);
  });
});

describe.runIf(isRoot)('Engine volumes', () => {
  test('the engine exposes one volume store per root, shared with its container manager', async () => {
    const tmp = await tempDir('tbve-');
    const engine = await Engine.open({ root: tmp.path });
    try {
      await loadBusybox(engine);
      expect(engine.volumes).toBe(engine.containers.volumes);
      const volumes = engine.volumes!;
      const c = await engine.containers.create({ image: 'busybox:local', cmd: ['true'], mounts: [{ type: 'volume', source: 'shared', target: '/s', readonly: false }] });
      expect((await volumes.list()).map((v) => v.name)).toEqual(['shared']);
      const e = await volumes.remove('shared').catch((x: unknown) => x);
      expect(isTbuildError(e, 'TB_VOLUME_IN_USE')).toBe(true);
      await engine.containers.remove(c.id);
      await volumes.remove('shared');
      expect(await volumes.list()).toEqual([]);
    } finally {
      await engine.close();
      await tmp.cleanup();
    }
  });
});
