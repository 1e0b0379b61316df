import type { ImageRecord } from '../../images/types.js';
import { imageInspect as baseInspect, imageSummary as baseSummary, sharedSize } from '../../images/inspect.js';
import { compareVersions } from '../wire/version.js';
import { familiarName } from '../wire/json-message.js';

/**
 * The Engine API image shapes are the exporter's (shared with the embedded CLI); the daemon adds
 * only what depends on the negotiated API version.
 */
export { imageHistory, imageSize } from '../../images/inspect.js';

/** Before API 1.44 Docker still sent `VirtualSize` and `<none>` placeholders. */
function isOldApi(apiVersion: string): boolean {
  return compareVersions(apiVersion, '1.44') < 0;
}

/** `GET /images/json` entry. */
export function imageSummary(img: ImageRecord, apiVersion: string, all?: ImageRecord[]): Record<string, unknown> {
  const out = baseSummary(img);
  // `shared-size=1`: what it shares with the other images
  if (all) out.SharedSize = sharedSize(img, all);
  if (isOldApi(apiVersion)) {
    if ((out.RepoTags as string[]).length === 0 && (out.RepoDigests as string[]).length === 0) {
      out.RepoTags = ['<none>:<none>'];
      out.RepoDigests = ['<none>@<none>'];
    }
    out.VirtualSize = out.Size;
  }
  return out;
}

/** `GET /images/{name}/json`. */
export function imageInspect(img: ImageRecord, apiVersion: string): Record<string, unknown> {
  const out = baseInspect(img);
  if (isOldApi(apiVersion)) out.VirtualSize = out.Size;
  return out;
}

/** Glob (`*`, `?`) match, as Docker's reference filter uses path.Match. */
export function globMatch(pattern: string, text: string): boolean {
  const re = pattern.replace(/[.+^$()|[\]{}\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${re}$`).test(text);
}

/** Docker's `reference` filter: a glob over familiar `name:tag`, or over the name alone when it has no tag. */
export function matchesReference(img: ImageRecord, pattern: string): boolean {
  return img.names.some((n) => {
    const f = familiarName(n);
    if (globMatch(pattern, f)) return true;
    const colon = f.lastIndexOf(':');
    const repo = colon > f.lastIndexOf('/') ? f.slice(0, colon) : f;
    return globMatch(pattern, repo);
  });
}
