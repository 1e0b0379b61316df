import { TbuildError } from '../errors.js';
import type { SourceOp } from '../solver/graph/types.js';
import type { VertexResult } from '../solver/result.js';
import type { OpEnv } from './types.js';

/** scratch: nothing; a local image: its layers, whose top snapshot chain is its filesystem. */
export async function execSource(env: OpEnv, op: SourceOp): Promise<VertexResult> {
  if (op.source === 'scratch') return { layers: [] };
  const record = await env.parts.images.get(op.imageId);
  if (!record) throw new TbuildError('TB_IMAGE_NOT_FOUND', `No such image: ${op.ref}`);
  const layers = record.layers.map((l) => ({ ...l }));
  return { snapshot: layers.at(-1)?.snapshot, layers, ...(record.config.created ? { created: record.config.created } : {}) };
}
