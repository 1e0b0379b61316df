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

const KNOWN_OS = new Set([
  'aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'hurd', 'illumos', 'ios', 'js', 'linux', 'nacl',
  'netbsd', 'openbsd', 'plan9', 'solaris', 'windows', 'zos', 'wasip1',
]);
const KNOWN_ARCH = new Set([
  '386', 'amd64', 'amd64p32', 'arm', 'armbe', 'arm64', 'arm64be', 'ppc64', 'ppc64le', 'loong64', 'mips',
  'mipsle', 'mips64', 'mips64le', 'mips64p32', 'mips64p32le', 'ppc', 'riscv', 'riscv64', 's390', 's390x',
  'sparc', 'sparc64', 'wasm',
]);

function normalizeArch(arch: string, variant: string): { arch: string; variant: string } {
  const a = arch.toLowerCase();
  const v = variant.toLowerCase();
  switch (a) {
    case 'i386':
      return { arch: '386', variant: '' };
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      return { arch: 'amd64', variant: v === 'v1' ? '' : v };
    case 'aarch64':
    case 'arm64':
      return { arch: 'arm64', variant: v === '8' || v === 'v8' ? '' : v };
    case 'armhf':
      return { arch: 'arm', variant: 'v7' };
    case 'armel':
      return { arch: 'arm', variant: 'v6' };
    case 'arm':
      return { arch: 'arm', variant: v === '' || v === '7' ? 'v7' : /^[5-8]$/.test(v) ? 'v' + v : v };
    default:
      return { arch: a, variant: v };
  }
}

/**
 * containerd's `platforms.Parse` for the parts the checks need: `os`, `arch` or
 * `os/arch[/variant]`, normalised (`x86_64` → amd64, `aarch64` → arm64). Undefined when invalid.
 */
export function parsePlatform(spec: string, host = { os: 'linux', arch: 'amd64' }): { os: string; arch: string; variant: string } | undefined {
  const parts = spec.split('/');
  if (parts.length > 3 || parts.some((p) => !/^[A-Za-z0-9_.-]+$/.test(p))) return undefined;
  if (parts.length === 1) {
    const one = parts[0]!.toLowerCase();
    if (KNOWN_OS.has(one)) return { os: one, arch: host.arch, variant: '' };
    const { arch, variant } = normalizeArch(one, '');
    if (!KNOWN_ARCH.has(arch)) return undefined;
    return { os: host.os, arch, variant: arch === 'arm' && variant === 'v7' ? '' : variant };
  }
  const os = parts[0]!.toLowerCase() === 'macos' ? 'darwin' : parts[0]!.toLowerCase();
  const { arch, variant } = normalizeArch(parts[1]!, parts[2] ?? '');
  return { os, arch, variant };
}

const SECRET = /(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)/i;
const NOT_SECRET = /(?:_|^)(?:public|file|version)(?:_|$)/i;

/** BuildKit's SecretsUsedInArgOrEnv heuristic on a variable name. */
export function looksSecret(key: string): boolean {
  return SECRET.test(key) && !NOT_SECRET.test(key);
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
