import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TbuildError } from '../../errors.js';
import type { OciDevice } from '../spec.js';
import { loadProfile } from './seccomp.js';
import { ALL_CAPABILITIES, type SecurityHost } from './apply.js';
import { DEFAULT_INIT_PATH, DEFAULT_SECCOMP_PROFILE_PATH, type DeviceMapping, type SecurityHostPaths, type SecurityOptions } from './types.js';

export type { SecurityHostPaths };

/**
 * What applying security options needs from the host, read when a bundle is made: the seccomp
 * profile file, device numbers, the init binary. (The platform is the caller's to add, once it
 * knows which architectures this kernel runs: seccomp.ts hostPlatform after util/ia32.ts.)
 */

export function securityHost(sec: SecurityOptions | undefined, paths: SecurityHostPaths = {}): Omit<SecurityHost, 'platform'> {
  const noDefault = paths.seccompProfile === 'unconfined';
  const choice = sec?.privileged || (noDefault && !sec?.seccomp) ? { mode: 'unconfined' as const } : (sec?.seccomp ?? { mode: 'default' as const });
  const seccomp = loadProfile(choice, paths.seccompProfile ?? DEFAULT_SECCOMP_PROFILE_PATH);
  let initPath: string | undefined;
  if (sec?.init) {
    initPath = paths.init ?? DEFAULT_INIT_PATH;
    if (!existsSync(initPath)) {
      throw new TbuildError('TB_INIT_MISSING', `--init needs ${initPath}; install it (Debian/Ubuntu: apt-get install tini)`);
    }
  }
  const devices = sec?.privileged ? hostDevices() : (sec?.devices ?? []).map(deviceNode);
  return {
    ...(seccomp ? { seccomp } : {}),
    seccompIsDefault: choice.mode === 'default',
    devices,
    ...(initPath ? { initPath } : {}),
    ...(ownBounding ??= readBounding()),
  };
}

let ownBounding: { available?: string[] } | undefined;

/** Our process' bounding set from /proc/self/status (absent when unreadable: then no filter). */
function readBounding(): { available?: string[] } {
  try {
    const hex = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (!hex) return {};
    const mask = BigInt('0x' + hex);
    return { available: ALL_CAPABILITIES.filter((_, i) => (mask >> BigInt(i)) & 1n) };
  } catch {
    return {};
  }
}

function major(rdev: number): number {
  return Number((BigInt(rdev) >> 8n) & 0xfffn) | Number((BigInt(rdev) >> 32n) & ~0xfffn);
}

function minor(rdev: number): number {
  return Number(BigInt(rdev) & 0xffn) | Number((BigInt(rdev) >> 12n) & ~0xffn);
}

/** `--device /dev/fuse[:/dev/fuse[:rwm]]` → the node to create, numbers read from the host. */
export function deviceNode(d: DeviceMapping): OciDevice {
  let real: string;
  let st;
  try {
    real = realpathSync(d.pathOnHost);
    st = statSync(real);
  } catch {
    throw new TbuildError('TB_INVALID_ARGUMENT', `error gathering device information while adding custom device "${d.pathOnHost}": no such file or directory`);
  }
  if (!st.isCharacterDevice() && !st.isBlockDevice()) {
    throw new TbuildError('TB_INVALID_ARGUMENT', `error gathering device information while adding custom device "${d.pathOnHost}": not a device node`);
  }
  return {
    path: d.pathInContainer,
    type: st.isBlockDevice() ? 'b' : 'c',
    major: major(st.rdev),
    minor: minor(st.rdev),
    fileMode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    access: d.permissions,
  };
}

/** Directories of /dev whose nodes belong to the container's own mounts, not the host's. */
const SKIP_DIRS = new Set(['/dev/pts', '/dev/shm', '/dev/mqueue', '/dev/fd', '/dev/.lxc', '/dev/.udev']);
/** Nodes runc sets up itself (or links to the container's own devpts). */
const SKIP_NODES = new Set(['/dev/console', '/dev/ptmx', '/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty']);

/** Every character and block device under the host's /dev (--privileged). */
export function hostDevices(dir = '/dev'): OciDevice[] {
  const out: OciDevice[] = [];
  const walk = (d: string) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      let st;
      try {
        st = lstatSync(p);
      } catch {
        continue; // vanished while we looked
      }
      if (st.isDirectory()) {
        if (!SKIP_DIRS.has(p)) walk(p);
      } else if ((st.isCharacterDevice() || st.isBlockDevice()) && !SKIP_NODES.has(p)) {
        out.push({ path: p, type: st.isBlockDevice() ? 'b' : 'c', major: major(st.rdev), minor: minor(st.rdev), fileMode: st.mode & 0o7777, uid: st.uid, gid: st.gid });
      }
    }
  };
  walk(dir);
  return out;
}
