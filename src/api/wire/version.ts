import { TbuildError } from '../../errors.js';

/** The Engine API versions we answer. The 28.x CLI asks for 1.50 and negotiates down through `_ping`. */
export const MAX_API_VERSION = '1.47';
export const MIN_API_VERSION = '1.24';
/** The Docker version we claim to be compatible with (clients gate features on it). */
export const SERVER_VERSION = '27.5.0-tbuild';

/** Compare dotted API versions numerically: -1, 0 or 1. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((n) => Number.parseInt(n, 10));
  const pb = b.split('.').map((n) => Number.parseInt(n, 10));
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** Split `/v1.43/containers/json` into the version and the rest; unversioned paths get the maximum. */
export function splitVersion(path: string): { version: string; rest: string; explicit: boolean } {
  const m = /^\/v(\d+(?:\.\d+)*)(\/.*)?$/.exec(path);
  if (!m) return { version: MAX_API_VERSION, rest: path, explicit: false };
  return { version: m[1]!, rest: m[2] ?? '/', explicit: true };
}

/** Docker's own wording, so clients that match on it (and people) see what they know. */
export function checkVersion(version: string): void {
  if (compareVersions(version, MAX_API_VERSION) > 0) {
    throw new TbuildError(
      'TB_API_VERSION',
      `client version ${version} is too new. Maximum supported API version is ${MAX_API_VERSION}`,
    );
  }
  if (compareVersions(version, MIN_API_VERSION) < 0) {
    throw new TbuildError(
      'TB_API_VERSION',
      `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
    );
  }
}
