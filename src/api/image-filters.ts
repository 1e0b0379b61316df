import type { ImageRecord } from '../images/types.js';
import { TbuildError } from '../errors.js';
import { familiarName } from '../images/reference.js';
import { anyValue, checkFilterNames, matchLabels, untilTime, type Filters } from '../util/filters.js';

/** The filters of `docker images` (`GET /images/json`). */
export const IMAGE_LIST_FILTERS = ['reference', 'dangling', 'label', 'label!', 'before', 'since', 'until'] as const;

/** Glob (`*`, `?`) match, as Docker's reference filter uses path.Match. */
export function globMatch(pattern: string, text: string): boolean {
  const re = pattern.replace(/[.+^$()|[\]{}\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${re}$`).test(text);
}

/** Docker's `reference` filter on one name: a glob over the familiar `name:tag`, or over the name alone. */
export function nameMatches(name: string, pattern: string): boolean {
  const f = familiarName(name);
  if (globMatch(pattern, f)) return true;
  const at = f.indexOf('@');
  const bare = at >= 0 ? f.slice(0, at) : f;
  const colon = bare.lastIndexOf(':');
  return globMatch(pattern, colon > bare.lastIndexOf('/') ? bare.slice(0, colon) : bare);
}

/** When an image was made, as Docker's filters read it (its config's `created`). */
export function imageCreated(img: ImageRecord): number {
  const t = Date.parse(img.config.created ?? img.created);
  return Number.isNaN(t) ? Date.parse(img.created) : t;
}

/**
 * The images `docker images --filter` shows, one implementation for the daemon and the CLI. With a
 * `reference` filter an image keeps only the names (tags, repo digests) that match, as dockerd
 * answers, so `reference=busybox` does not list the same image's other tags.
 */
export async function selectImages(list: ImageRecord[], filters: Filters, resolve: (ref: string) => Promise<ImageRecord>): Promise<ImageRecord[]> {
  if (!filters.size) return list;
  checkFilterNames(filters, IMAGE_LIST_FILTERS);
  const dangling = filters.get('dangling') ?? [];
  for (const v of dangling) if (!['true', 'false', '1', '0'].includes(v)) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid filter 'dangling=${v}'`);
  const until = untilTime(filters);
  const pivots: Array<[number, number]> = [];
  for (const [key, sign] of [['before', -1], ['since', 1]] as const) {
    for (const ref of filters.get(key) ?? []) pivots.push([imageCreated(await resolve(ref)), sign]);
  }
  const refs = filters.get('reference') ?? [];
  const out: ImageRecord[] = [];
  for (const img of list) {
    if (!anyValue(filters, 'dangling', (v) => (img.names.length === 0) === (v === 'true' || v === '1'))) continue;
    if (!matchLabels(filters, img.config.config?.Labels)) continue;
    const created = imageCreated(img);
    if (until !== undefined && created >= until) continue;
    if (!pivots.every(([t, sign]) => Math.sign(created - t) === sign)) continue;
    if (!refs.length) {
      out.push(img);
      continue;
    }
    const names = img.names.filter((n) => refs.some((r) => nameMatches(n, r)));
    const repoDigests = img.repoDigests.filter((n) => refs.some((r) => nameMatches(n, r)));
    if (names.length || repoDigests.length) out.push({ ...img, names, repoDigests });
  }
  return out;
}
