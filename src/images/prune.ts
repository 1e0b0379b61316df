import type { ImageRecord, ImageStore } from './types.js';
import { isTbuildError } from '../errors.js';
import { checkFilterNames, matchLabels, untilTime, type Filters } from '../util/filters.js';

export interface PruneResult {
  /** Docker's `ImagesDeleted`: the Untagged/Deleted items of every removal, in order. */
  ImagesDeleted: Array<{ Untagged?: string; Deleted?: string }>;
  /** Bytes of layers actually removed (those no remaining image shares). */
  SpaceReclaimed: number;
}

/** The filters of `docker image prune` (`POST /images/prune`). */
export const IMAGE_PRUNE_FILTERS = ['dangling', 'label', 'label!', 'until'] as const;

export interface ImagePruneOptions {
  /** Every image no container uses, not only dangling ones (also `dangling=false`). */
  all?: boolean;
  /** `until=` (created before), `label=`, `label!=`, `dangling=`. */
  filters?: Filters;
  /** Told of each image removed (the daemon's `delete` events). */
  onRemoved?: (img: ImageRecord) => void;
}

/** When an image was made, as Docker's `until` reads it (its config's `created`). */
function created(img: ImageRecord): number {
  const t = Date.parse(img.config.created ?? img.created);
  return Number.isNaN(t) ? Date.parse(img.created) : t;
}

/**
 * `image prune` (POST /images/prune): remove dangling images (no tag, no repo digest), or with
 * `all` every image no container uses, among those the filters keep. Images a container uses are
 * skipped, not errors.
 */
export async function pruneImages(images: ImageStore, opts: ImagePruneOptions = {}): Promise<PruneResult> {
  const filters = opts.filters ?? new Map<string, string[]>();
  checkFilterNames(filters, IMAGE_PRUNE_FILTERS);
  const all = Boolean(opts.all) || (filters.get('dangling') ?? []).some((v) => v === 'false' || v === '0');
  const until = untilTime(filters);
  const out: PruneResult = { ImagesDeleted: [], SpaceReclaimed: 0 };
  const every = await images.list();
  const removed: ImageRecord[] = [];
  for (const img of every) {
    const dangling = img.names.length === 0 && img.repoDigests.length === 0;
    if (!dangling && !all) continue;
    if (!matchLabels(filters, img.config.config?.Labels)) continue;
    if (until !== undefined && created(img) >= until) continue;
    if (await images.inUse?.(img.id)) continue;
    try {
      // `force` only to drop every name at once (images in use were skipped above).
      out.ImagesDeleted.push(...(await images.remove(img.id, { force: !dangling })));
      removed.push(img);
      opts.onRemoved?.(img);
    } catch (err) {
      if (isTbuildError(err, 'TB_IMAGE_IN_USE') || isTbuildError(err, 'TB_IMAGE_NOT_FOUND')) continue;
      throw err;
    }
  }
  // Only layers no remaining image shares are freed.
  const kept = new Set(every.filter((i) => !removed.includes(i)).flatMap((i) => i.layers.map((l) => l.diffId)));
  const freed = new Map<string, number>();
  for (const img of removed) for (const l of img.layers) if (!kept.has(l.diffId)) freed.set(l.diffId, l.size);
  out.SpaceReclaimed = [...freed.values()].reduce((a, b) => a + b, 0);
  return out;
}
