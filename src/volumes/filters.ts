import { TbuildError } from '../errors.js';
import { anyValue, checkFilterNames, matchLabels, type Filters } from '../util/filters.js';

/** The filters of `docker volume ls` (`GET /volumes`). */
export const VOLUME_LIST_FILTERS = ['dangling', 'name', 'label', 'label!', 'driver'] as const;

/** What a volume filter reads, from a store record or the API's shape alike. */
export interface VolumeView {
  name: string;
  labels: Record<string, string> | undefined;
  driver: string;
}

/**
 * The volumes `docker volume ls --filter` shows, one implementation for the daemon and the CLI.
 * `inUse` is asked only for a `dangling` filter (anonymous volumes count: a container mounts them).
 */
export async function selectVolumes<T>(list: T[], filters: Filters, view: (v: T) => VolumeView, inUse: (name: string) => Promise<boolean>): Promise<T[]> {
  if (!filters.size) return list;
  checkFilterNames(filters, VOLUME_LIST_FILTERS);
  for (const d of filters.get('dangling') ?? []) if (!['true', 'false', '1', '0'].includes(d)) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid filter 'dangling=${d}'`);
  const out: T[] = [];
  for (const item of list) {
    const v = view(item);
    if (!anyValue(filters, 'name', (x) => v.name.includes(x)) || !anyValue(filters, 'driver', (x) => v.driver === x) || !matchLabels(filters, v.labels)) continue;
    if (filters.has('dangling')) {
      const dangling = !(await inUse(v.name));
      if (!anyValue(filters, 'dangling', (x) => dangling === (x === 'true' || x === '1'))) continue;
    }
    out.push(item);
  }
  return out;
}
