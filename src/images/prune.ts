import type { ImageStore } from './types.js';
import { isTbuildError } from '../errors.js';

export interface PruneResult {
  /** Docker's `ImagesDeleted`: the Untagged/Deleted items of every removal, in order. */
  ImagesDeleted: Array<{ Untagged?: string; Deleted?: string }>;
  /** Bytes of layers actually removed. */
  SpaceReclaimed: number;
}

/**
 * `image prune` (POST /images/prune): remove dangling images (no tag, no repo digest), or with
 * `all` every image no container uses. Images a container uses are skipped, not errors.
 */
export async function pruneImages(images: ImageStore, opts: { all?: boolean } = {}): Promise<PruneResult> {
  const out: PruneResult = { ImagesDeleted: [], SpaceReclaimed: 0 };
  for (const img of await images.list()) {
    const dangling = img.names.length === 0 && img.repoDigests.length === 0;
    if (!dangling && !opts.all) continue;
    if (await images.inUse?.(img.id)) continue;
    const sizeOf = new Map(img.layers.map((l) => [l.snapshot, l.size]));
    try {
      // `force` only to drop every name at once (images in use were skipped above).
      const items = await images.remove(img.id, { force: !dangling });
      out.ImagesDeleted.push(...items);
      for (const it of items) if (it.Deleted) out.SpaceReclaimed += sizeOf.get(it.Deleted) ?? 0;
    } catch (err) {
      if (isTbuildError(err, 'TB_IMAGE_IN_USE') || isTbuildError(err, 'TB_IMAGE_NOT_FOUND')) continue;
      throw err;
    }
  }
  return out;
}
