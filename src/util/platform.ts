import { ia32Runs } from './ia32.js';
import { TbuildError } from '../errors.js';

/** An image platform as OCI names it (`linux`, `arm64`, `v8`). */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
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

/** containerd's normalisation: `x86_64` → amd64, `aarch64` → arm64 (v8 implied), `armhf` → arm/v7. */
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
 * containerd's `platforms.Parse`: `os`, `arch` or `os/arch[/variant]`, normalised; a lone word is
 * an OS or an architecture completed from `host`. Undefined when it is neither.
 */
export function parsePlatformSpec(spec: string, host: Platform = hostPlatform()): Platform | undefined {
  const parts = spec.split('/');
  if (parts.length > 3 || parts.some((p) => !/^[A-Za-z0-9_.-]+$/.test(p))) return undefined;
  let out: { os: string; arch: string; variant: string };
  if (parts.length === 1) {
    const one = parts[0]!.toLowerCase();
    if (KNOWN_OS.has(one)) {
      out = { os: one, arch: host.architecture, variant: '' };
    } else {
      const { arch, variant } = normalizeArch(one, '');
      if (!KNOWN_ARCH.has(arch)) return undefined;
      out = { os: host.os, arch, variant: arch === 'arm' && variant === 'v7' ? '' : variant };
    }
  } else {
    const os = parts[0]!.toLowerCase() === 'macos' ? 'darwin' : parts[0]!.toLowerCase();
    out = { os, ...normalizeArch(parts[1]!, parts[2] ?? '') };
  }
  return { os: out.os, architecture: out.arch, ...(out.variant ? { variant: out.variant } : {}) };
}

/** `--platform` and `FROM --platform` values: normalised, or TB_INVALID_ARGUMENT naming the value. */
export function parsePlatform(spec: string): Platform {
  const p = parsePlatformSpec(spec.trim());
  if (!p || !KNOWN_OS.has(p.os) || !KNOWN_ARCH.has(p.architecture)) {
    throw new TbuildError('TB_INVALID_ARGUMENT', `invalid platform ${JSON.stringify(spec)}: want os/arch[/variant], such as linux/arm64 or linux/arm/v7`);
  }
  return p;
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

const NODE_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64' };

/** This machine's platform (arm64 without the implied v8). */
export function hostPlatform(): Platform {
  return { os: 'linux', architecture: NODE_ARCH[process.arch] ?? process.arch };
}

/** The same platform once normalised (arm64 = arm64/v8, arm = arm/v7). */
export function samePlatform(a: Platform, b: Platform): boolean {
  const na = parsePlatformSpec(formatPlatform(a));
  const nb = parsePlatformSpec(formatPlatform(b));
  return Boolean(na && nb) && na!.os === nb!.os && na!.architecture === nb!.architecture && (na!.variant ?? '') === (nb!.variant ?? '');
}

/**
 * True when this machine runs `p`'s binaries itself: amd64 runs 386 too, unless its kernel is known
 * to refuse 32-bit code (`probeIa32()` in util/ia32.ts tells; until it has, 386 counts as native).
 */
export function runsNatively(p: Platform, host: Platform = hostPlatform()): boolean {
  if (p.os !== 'linux') return false;
  if (p.architecture === host.architecture) return true;
  return host.architecture === 'amd64' && p.architecture === '386' && ia32Runs() !== false;
}

/**
 * Docker's warning for a container of an image another CPU's than this machine's, created
 * without `--platform`; undefined when the image is this machine's (or names no platform).
 */
export function platformMismatchWarning(config: { os?: string; architecture?: string; variant?: string }): string | undefined {
  const has = platformOfConfig(config);
  if (!has || samePlatform(has, hostPlatform())) return undefined;
  return `The requested image's platform (${formatPlatform(has)}) does not match the detected host platform (${formatPlatform(hostPlatform())}) and no specific platform was requested`;
}

/** The platform an image config names; undefined when it names no architecture. */
export function platformOfConfig(c: { os?: string; architecture?: string; variant?: string }): Platform | undefined {
  if (!c.architecture) return undefined;
  return { os: c.os || 'linux', architecture: c.architecture, ...(c.variant ? { variant: c.variant } : {}) };
}

/**
 * `--platform a,b`: the platforms of a multi-platform build, each checked as `targetPlatform`
 * checks one, repeats dropped (so `a,a` is one); undefined when the flag is no list.
 */
export function targetPlatforms(spec: string | undefined): Platform[] | undefined {
  if (!spec?.includes(',')) return undefined;
  const out: Platform[] = [];
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const p = targetPlatform(part);
    if (!out.some((q) => formatPlatform(q) === formatPlatform(p))) out.push(p);
  }
  return out.length ? out : undefined;
}

/**
 * The platform a build targets: `--platform` (one; a list is a multi-platform build), or this
 * machine's. Another CPU's RUN steps need an emulator, which the worker checks when one runs.
 */
export function targetPlatform(spec: string | undefined): Platform {
  if (spec === undefined || spec.trim() === '') return hostPlatform();
  if (spec.includes(',')) {
    throw new TbuildError('TB_INVALID_ARGUMENT', `--platform ${spec}: several platforms here are not supported (a multi-platform build takes them; this needs one)`);
  }
  const p = parsePlatform(spec);
  if (p.os !== 'linux') throw new TbuildError('TB_INVALID_ARGUMENT', `--platform ${spec}: tbuild builds linux images only`);
  return p;
}
