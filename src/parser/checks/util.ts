import { parsePlatformSpec } from '../../util/platform.js';

/** Small pure helpers the rules share. */

/** Plain Levenshtein distance (insert, delete, substitute), over code points. */
function levenshtein(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  let prev = Array.from({ length: y.length + 1 }, (_, i) => i);
  for (let i = 1; i <= x.length; i++) {
    const row = [i];
    for (let j = 1; j <= y.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[y.length]!;
}

/**
 * BuildKit's `suggest.Search`: the first closest option within two edits; nothing when an option
 * equals the value (then the value was not the problem).
 */
export function suggestName(value: string, options: Iterable<string>, caseSensitive = true): string | undefined {
  if (!value) return undefined;
  const v = caseSensitive ? value : value.toLowerCase();
  let match: string | undefined;
  let min = 3;
  for (const option of options) {
    const o = caseSensitive ? option : option.toLowerCase();
    if (o === v) return undefined;
    const d = levenshtein(v, o);
    if (d < min) {
      match = option;
      min = d;
    }
  }
  return match;
}

const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const REFERENCE = new RegExp(`^(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*(?::${TAG})?(?:@${DIGEST})?$`);

/**
 * Whether `ref` parses as a normalized image reference (distribution/reference's
 * ParseNormalizedNamed): lower-case repository path, optional registry, tag and digest; not a
 * bare 64-hex image ID; at most 255 characters of name.
 */
export function isValidReference(ref: string): boolean {
  if (!ref || /^[a-f0-9]{64}$/.test(ref)) return false;
  if (!REFERENCE.test(ref)) return false;
  const name = ref.replace(/@.*$/, '').replace(/:[\w][\w.-]*$/, '');
  return name.length <= 255;
}

/** containerd's `platforms.Parse` in the shape the checks compare (`variant` '' when none). Undefined when invalid. */
export function parsePlatform(spec: string, host = { os: 'linux', arch: 'amd64' }): { os: string; arch: string; variant: string } | undefined {
  const p = parsePlatformSpec(spec, { os: host.os, architecture: host.arch });
  return p ? { os: p.os, arch: p.architecture, variant: p.variant ?? '' } : undefined;
}

const SECRET = /(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)/i;
const NOT_SECRET = /(?:_|^)(?:public|file|version)(?:_|$)/i;

/** BuildKit's SecretsUsedInArgOrEnv heuristic on a variable name. */
export function looksSecret(key: string): boolean {
  return SECRET.test(key) && !NOT_SECRET.test(key);
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
