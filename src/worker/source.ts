import { TbuildError } from '../errors.js';
import type { SourceOp } from '../solver/graph/types.js';
import type { VertexResult } from '../solver/result.js';
import type { LazyBase, OpEnv } from './types.js';
import { chainIds, layerSnapshotName } from '../images/layers.js';

/** scratch: nothing; a local image: its layers, whose top snapshot chain is its filesystem. */
export async function execSource(env: OpEnv, op: SourceOp): Promise<VertexResult> {
  if (op.source === 'scratch') return { layers: [] };
  const record = await env.parts.images.get(op.imageId);
  if (!record) {
    const lazy = env.lazyBases?.get(op.imageId);
    if (lazy) return lazyBase(lazy);
    throw new TbuildError('TB_IMAGE_NOT_FOUND', `No such image: ${op.ref}`);
  }
  const layers = record.layers.map((l) => ({ ...l }));
  const top = layers.at(-1)?.snapshot;
  if (top !== undefined && env.lease && !(await env.lease.add(top))) {
    throw new TbuildError('TB_IMAGE_NOT_FOUND', `image ${op.ref} was removed while this build was starting`);
  }
  return { snapshot: top, layers, ...(record.config.created ? { created: record.config.created } : {}) };
}

/**
 * A base image not pulled yet: pending until a step needs its files (then pulled, exactly the
 * image resolved). It names the snapshot its layers will have (their chain id), so the steps built
 * on it are keyed the same whether it was pulled or not; a build whose every step comes from an
 * imported cache never pulls it.
 */
function lazyBase(base: LazyBase): VertexResult {
  const chain = chainIds(base.diffIds).at(-1);
  return {
    ...(chain ? { snapshot: layerSnapshotName(chain) } : {}),
    layers: [],
    ...(base.created ? { created: base.created } : {}),
    pending: {
      diffIds: base.diffIds,
      label: `[internal] pull ${base.ref}`,
      async materialize(_signal, onStatus) {
        const record = await base.pull(onStatus);
        const layers = record.layers.map((l) => ({ ...l }));
        return { snapshot: layers.at(-1)?.snapshot, layers };
      },
    },
  };
}
