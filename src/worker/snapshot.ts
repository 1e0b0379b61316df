import { mkdir, mkdtemp, readdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { mountAll } from '../util/mount.js';
import type { VertexResult } from '../solver/result.js';
import type { OpEnv } from './types.js';
import type { Digest } from '../util/digest.js';
import { traced } from '../util/trace.js';
import { writing } from '../util/no-space.js';
import { isTbuildError } from '../errors.js';
import { DEBUG_LABEL } from '../cache/snapshotter.js';

export const rand = (): string => randomBytes(6).toString('hex');

/** A fresh empty directory under the build's scratch space. */
export async function scratchDir(env: OpEnv, prefix: string): Promise<string> {
  await mkdir(env.tmp, { recursive: true });
  return mkdtemp(join(env.tmp, prefix));
}

async function isEmptyDir(dir: string): Promise<boolean> {
  return (await readdir(dir)).length === 0;
}

/** Remove a mount point; rmdir only, so a directory still mounted by mistake is never emptied. */
async function dropMountPoint(dir: string): Promise<void> {
  await rmdir(dir).catch(() => {});
}

/**
 * Prepare a writable snapshot on `parent`, mount it, let `fn` change it, then commit it as a new
 * layer. A step that changed nothing keeps the parent (no empty layer, as BuildKit drops them).
 * On any failure the active snapshot is removed: nothing half-written stays behind.
 */
export async function commitWork(
  env: OpEnv,
  parent: VertexResult,
  fn: (rootfs: string) => Promise<void>,
  opts: { keepFailed?: (err: unknown) => boolean } = {},
): Promise<VertexResult> {
  const { snapshots } = env.parts;
  const key = `a-${rand()}`;
  const mounts = await traced('snapshot prepare', () => snapshots.prepare(key, parent.snapshot));
  const dir = await scratchDir(env, 'rw-');
  let committed: string | undefined;
  try {
    const release = await traced('mount', () => mountAll(mounts, dir));
    try {
      await traced('run', () => writing("the step's new layer", () => fn(dir)));
    } finally {
      await traced('unmount', () => release());
    }
    if (await isEmptyDir(await snapshots.layerDir(key))) {
      await snapshots.remove(key);
      return parent;
    }
    const name = `l-${rand()}`;
    await traced('commit', () => snapshots.commit(name, key));
    committed = name;
    const desc = await traced('diff', async () => describeLayer(env, await snapshots.layerDir(name)));
    committed = undefined;
    return {
      snapshot: name,
      layers: [...parent.layers, { diffId: desc.diffId, size: desc.size, snapshot: name }],
      created: new Date().toISOString(),
    };
  } catch (err) {
    // A failed step's files, kept as a layer of their own for `tbuild debug` (until the next build).
    if (committed === undefined && isTbuildError(err) && opts.keepFailed?.(err) && (await snapshots.exists(key))) {
      const kept = await keepForDebug(env, parent, key).catch(() => undefined);
      if (kept) {
        err.details.debug = { layers: kept };
        throw err;
      }
    }
    await snapshots.remove(committed ?? key).catch(() => {});
    throw err;
  } finally {
    await dropMountPoint(dir);
  }
}

async function keepForDebug(env: OpEnv, parent: VertexResult, key: string): Promise<VertexResult['layers']> {
  const { snapshots, layers } = env.parts;
  const name = `dbg-${rand()}`;
  await snapshots.commit(name, key, { [DEBUG_LABEL]: '1' });
  try {
    const desc = await layers.describeDir(await snapshots.layerDir(name));
    return [...parent.layers.map((l) => ({ diffId: l.diffId, size: l.size, snapshot: l.snapshot })), { diffId: desc.diffId, size: desc.size, snapshot: name }];
  } catch (err) {
    await snapshots.remove(name).catch(() => {});
    throw err;
  }
}

/**
 * The diffID and size of a new layer. With SOURCE_DATE_EPOCH, every mtime after it is clamped to
 * it in the layer's tar (BuildKit's rewrite-timestamp), and that tar is kept as the layer's blob:
 * the snapshot keeps the real times, so the tar could not be made again from it.
 */
export async function describeLayer(env: OpEnv, dir: string): Promise<{ diffId: Digest; size: number }> {
  const { content, layers } = env.parts;
  if (env.sourceDateEpoch === undefined) return layers.describeDir(dir);
  const info = await content.ingest(layers.tarFromDir(dir, { sourceDateEpoch: env.sourceDateEpoch }));
  return { diffId: info.digest, size: info.size };
}

/** A read-only view of `result` (an empty directory for scratch), mounted until `release`. */
export async function openView(env: OpEnv, result: VertexResult): Promise<{ dir: string; release: () => Promise<void> }> {
  const dir = await scratchDir(env, 'ro-');
  if (!result.snapshot) return { dir, release: () => dropMountPoint(dir) };
  const key = `v-${rand()}`;
  try {
    const mounts = await env.parts.snapshots.view(key, result.snapshot);
    const unmount = await mountAll(mounts, dir);
    return {
      dir,
      release: async () => {
        await unmount();
        await env.parts.snapshots.remove(key).catch(() => {});
        await dropMountPoint(dir);
      },
    };
  } catch (err) {
    await env.parts.snapshots.remove(key).catch(() => {});
    await dropMountPoint(dir);
    throw err;
  }
}

export async function withView<T>(env: OpEnv, result: VertexResult, fn: (dir: string) => Promise<T>): Promise<T> {
  const v = await openView(env, result);
  try {
    return await fn(v.dir);
  } finally {
    await v.release();
  }
}
