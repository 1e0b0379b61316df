import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { TbuildError } from '../errors.js';
import type { VertexResult } from '../solver/result.js';
import type { OpEnv } from './types.js';
import { describeLayer, rand } from './snapshot.js';

const run = promisify(execFile);

/**
 * `COPY --link`: apply the layers of `top` (made on scratch) over `base`. Each layer is copied as it
 * is into a new snapshot's own directory, so a file or directory in it replaces what `base` has at
 * that path (BuildKit's merge semantics); `base` is never read, which is why the copy's cache key
 * does not depend on it.
 */
export async function execMerge(env: OpEnv, base: VertexResult, top: VertexResult): Promise<VertexResult> {
  const { snapshots } = env.parts;
  let result = base;
  for (const layer of top.layers) {
    const key = `m-${rand()}`;
    await snapshots.prepare(key, result.snapshot);
    let name: string | undefined;
    try {
      const dest = await snapshots.layerDir(key);
      const src = await snapshots.layerDir(layer.snapshot);
      // cp -a keeps owners, modes, times, xattrs and hard links inside the layer
      await run('/bin/cp', ['-a', '--', `${src}/.`, `${dest}/`]).catch((err: Error & { stderr?: string }) => {
        throw new TbuildError('TB_INTERNAL', `merging a --link layer failed: ${err.stderr?.trim() || err.message}`, { cause: err });
      });
      name = `l-${rand()}`;
      await snapshots.commit(name, key);
      const desc = await describeLayer(env, await snapshots.layerDir(name));
      result = {
        snapshot: name,
        layers: [...result.layers, { diffId: desc.diffId, size: desc.size, snapshot: name }],
        created: top.created ?? new Date().toISOString(),
      };
      name = undefined;
    } catch (err) {
      await snapshots.remove(name ?? key).catch(() => {});
      throw err;
    }
  }
  return result;
}
