import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TbuildError } from '../errors.js';
import { formatPlatform, hostPlatform, runsNatively, type Platform } from '../util/platform.js';
import { probeIa32 } from '../util/ia32.js';

/** Where the kernel lists its binfmt_misc handlers. */
export const BINFMT_ROOT = '/proc/sys/fs/binfmt_misc';

/** ELF class (32/64-bit), byte order and machine of each architecture's binaries. */
const ELF: Record<string, { bits: 32 | 64; big?: boolean; machine: number }> = {
  '386': { bits: 32, machine: 3 },
  amd64: { bits: 64, machine: 62 },
  arm: { bits: 32, machine: 40 },
  arm64: { bits: 64, machine: 183 },
  ppc64le: { bits: 64, machine: 21 },
  ppc64: { bits: 64, big: true, machine: 21 },
  s390x: { bits: 64, big: true, machine: 22 },
  riscv64: { bits: 64, machine: 243 },
  mips64le: { bits: 64, machine: 8 },
  mips64: { bits: 64, big: true, machine: 8 },
  mipsle: { bits: 32, machine: 8 },
  mips: { bits: 32, big: true, machine: 8 },
  loong64: { bits: 64, machine: 258 },
};

/** The first bytes of an executable of `arch`: what a binfmt_misc magic is matched against. */
function elfHeader(arch: string): Buffer | undefined {
  const e = ELF[arch];
  if (!e) return undefined;
  const h = Buffer.alloc(64);
  h.write('\x7fELF', 0, 'latin1');
  h[4] = e.bits === 64 ? 2 : 1;
  h[5] = e.big ? 2 : 1;
  h[6] = 1;
  if (e.big) {
    h.writeUInt16BE(2, 16);
    h.writeUInt16BE(e.machine, 18);
  } else {
    h.writeUInt16LE(2, 16);
    h.writeUInt16LE(e.machine, 18);
  }
  return h;
}

export interface BinfmtHandler {
  name: string;
  enabled: boolean;
  interpreter: string;
  flags: string;
  offset: number;
  magic: Buffer;
  mask?: Buffer;
}

/** One `/proc/sys/fs/binfmt_misc/NAME` file; undefined for extension-matched handlers. */
export function parseHandler(name: string, text: string): BinfmtHandler | undefined {
  const field = (key: string): string | undefined => text.split('\n').find((l) => l.startsWith(`${key} `))?.slice(key.length + 1).trim();
  const magic = field('magic');
  if (magic === undefined) return undefined;
  const mask = field('mask');
  return {
    name,
    enabled: text.split('\n')[0]?.trim() === 'enabled',
    interpreter: field('interpreter') ?? '',
    flags: text.split('\n').find((l) => l.startsWith('flags:'))?.slice(6).trim() ?? '',
    offset: Number(field('offset') ?? 0),
    magic: Buffer.from(magic, 'hex'),
    ...(mask ? { mask: Buffer.from(mask, 'hex') } : {}),
  };
}

function matchesHeader(h: BinfmtHandler, header: Buffer): boolean {
  if (h.offset + h.magic.length > header.length) return false;
  for (let i = 0; i < h.magic.length; i++) {
    const m = h.mask?.[i] ?? 0xff;
    if ((header[h.offset + i]! & m) !== (h.magic[i]! & m)) return false;
  }
  return true;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The registered handlers whose magic matches `p`'s executables (enabled or not). Tiny procfs reads. */
export function handlersFor(p: Platform, root = BINFMT_ROOT): BinfmtHandler[] {
  const header = elfHeader(p.architecture);
  if (!header) return [];
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  const out: BinfmtHandler[] = [];
  for (const name of names) {
    if (name === 'register' || name === 'status') continue;
    const text = read(join(root, name));
    const h = text === undefined ? undefined : parseHandler(name, text);
    if (h && matchesHeader(h, header)) out.push(h);
  }
  return out;
}

/** Why this machine cannot run `p`'s binaries in a container, or undefined when it can. */
export function emulationGap(p: Platform, root = BINFMT_ROOT): string | undefined {
  if (runsNatively(p)) return undefined;
  if (p.os !== 'linux') return `${p.os} is not linux`;
  if (!ELF[p.architecture]) return `no known executable format for ${p.architecture}`;
  const status = read(join(root, 'status'));
  if (status === undefined) return `binfmt_misc is not mounted at ${root}`;
  if (status.trim() !== 'enabled') return 'binfmt_misc is disabled';
  const handlers = handlersFor(p, root);
  if (handlers.some((h) => h.enabled && h.flags.includes('F'))) return undefined;
  const enabled = handlers.find((h) => h.enabled);
  if (enabled) return `its binfmt_misc handler (${enabled.name}) lacks the F flag, so its interpreter cannot be found inside a container`;
  return handlers.length ? `its binfmt_misc handler (${handlers[0]!.name}) is disabled` : 'no binfmt_misc handler is registered for it';
}

/** Every linux platform this machine runs: its own and those an emulator is registered for (BuildKit's worker platforms). */
export function runnablePlatforms(root = BINFMT_ROOT): Platform[] {
  const host = hostPlatform();
  const others = Object.keys(ELF)
    .map((architecture): Platform => ({ os: 'linux', architecture, ...(architecture === 'arm' ? { variant: 'v7' } : {}) }))
    .filter((p) => p.architecture !== host.architecture && emulationGap(p, root) === undefined);
  return [host, ...others];
}

const checked = new Map<string, Promise<void>>();

/**
 * Resolve when this machine can run `p`'s binaries in a container: natively, or through an
 * enabled binfmt_misc handler with the F flag (the interpreter is opened when registered, so it
 * need not exist inside the container's root — how Debian's qemu-user-static registers). Else
 * TB_PLATFORM_EMULATION naming the platform and how to get emulation.
 */
export async function requireEmulation(p: Platform, root = BINFMT_ROOT): Promise<void> {
  // whether this amd64 kernel runs 386 code itself is only known once tried
  if (p.architecture === '386') await probeIa32();
  if (runsNatively(p)) return;
  const key = `${root}\0${formatPlatform(p)}`;
  let done = checked.get(key);
  if (!done) {
    done = checkEmulation(p, root);
    // a failure is not remembered: the handler may be registered while the daemon runs
    done.catch(() => checked.delete(key));
    checked.set(key, done);
  }
  return done;
}

async function checkEmulation(p: Platform, root: string): Promise<void> {
  let gap = emulationGap(p, root);
  if (gap === undefined) return;
  if (p.os === 'linux' && p.architecture === '386' && hostPlatform().architecture === 'amd64') gap = `this kernel does not run 32-bit x86 code itself, and ${gap}`;
  throw new TbuildError(
    'TB_PLATFORM_EMULATION',
    `cannot run ${formatPlatform(p)} binaries on this ${formatPlatform(hostPlatform())} machine: ${gap}; ` +
      'install an emulator (Debian: apt-get install qemu-user-static binfmt-support, then update-binfmts --enable), ' +
      "or build for the machine's own platform",
    { details: { platform: formatPlatform(p) } },
  );
}
