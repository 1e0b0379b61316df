import type { HistoryEntry, ImageConfig } from '../../images/types.js';
import { resultDiffIds, type VertexResult } from '../../solver/result.js';
import type { Digest } from '../../util/digest.js';
import { TbuildError } from '../../errors.js';
import type { StageState } from './index.js';

/**
 * The image config of the target: config evolved by convert, layers from the solved result, and
 * history entries marked empty where a step added no layer (BuildKit drops empty layers).
 */
export function imageConfig(
  target: StageState,
  results: Map<Digest, VertexResult>,
  now: Date,
  sourceDateEpoch?: number,
): { config: ImageConfig; result: VertexResult } {
  const result = results.get(target.vertex);
  if (!result) throw new TbuildError('TB_INTERNAL', 'target result missing');
  const epoch = sourceDateEpoch !== undefined ? new Date(sourceDateEpoch * 1000).toISOString() : undefined;
  // Times come from the results (kept in the cache), so a fully cached rebuild is the same image.
  let created = epoch ?? result.created ?? now.toISOString();
  let last: string | undefined;
  const history: HistoryEntry[] = target.history.map((h) => {
    const { layer, ...entry } = h;
    if (layer) {
      const mine = results.get(layer.vertex);
      const parent = results.get(layer.parent);
      const added = !!mine && !!parent && resultDiffIds(mine).length > resultDiffIds(parent).length;
      if (!added) entry.empty_layer = true;
      else delete entry.empty_layer;
      if (added && mine.created) last = mine.created;
    }
    if (epoch) entry.created = epoch;
    else entry.created ??= last ?? created;
    if (entry.created) last = entry.created;
    return entry;
  });
  if (!epoch && last && last > created) created = last;
  const config: ImageConfig = {
    architecture: target.image.architecture,
    os: target.image.os,
    ...(target.image.variant ? { variant: target.image.variant } : {}),
    created,
    ...(target.image.author ? { author: target.image.author } : {}),
    config: target.image.config,
    rootfs: { type: 'layers', diff_ids: result.layers.map((l) => l.diffId) },
    history,
  };
  return { config, result };
}
