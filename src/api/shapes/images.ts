import type { ImageRecord } from '../../images/types.js';
import { imageInspect as baseInspect, imageSummary as baseSummary, sharedSize, type GraphDriverDirs } from '../../images/inspect.js';
import { compareVersions } from '../wire/version.js';

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
export function imageInspect(img: ImageRecord, apiVersion: string, dirs?: GraphDriverDirs): Record<string, unknown> {
  const out = baseInspect(img, dirs);
  if (isOldApi(apiVersion)) out.VirtualSize = out.Size;
  return out;
}
