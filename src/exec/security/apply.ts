import { TbuildError } from '../../errors.js';
import type { ContainerMount, RunSpec } from '../types.js';
import type { OciSpec, OciDevice } from '../spec.js';
import { DEFAULT_CAPABILITIES } from '../spec.js';
import { convertProfile, type Platform, type SeccompProfile } from './seccomp.js';
import type { SecurityOptions, Ulimit } from './types.js';

/**
 * Turning `SecurityOptions` into the runtime spec, in two pure steps around `buildOciSpec`:
 * `withSecurityMounts` adds what is mounted (the init binary, a sized /dev/shm) so the bundle
 * code treats those like any other mount, and `applySecurity` sets capabilities, seccomp,
 * devices, rlimits and the privileged relaxations on the finished spec.
 */

/** Every capability of Linux 5.9+ (CAP_CHECKPOINT_RESTORE is 40). */
export const ALL_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW',
  'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD',
  'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG',
  'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
] as const;

/** Where the init binary appears in the container (Docker's path, so scripts checking for it work). */
export const INIT_DESTINATION = '/sbin/docker-init';

/** `net_admin`, `CAP_NET_ADMIN`, `ALL` → canonical; unknown names fail with the name. */
export function normalizeCapability(name: string): string {
  const up = name.trim().toUpperCase();
  if (up === 'ALL') return 'ALL';
  const cap = up.startsWith('CAP_') ? up : `CAP_${up}`;
  if (!(ALL_CAPABILITIES as readonly string[]).includes(cap)) throw new TbuildError('TB_INVALID_ARGUMENT', `unknown capability: "${name}"`);
  return cap;
}

/** Docker's rules: ALL in drop starts from nothing, ALL in add means everything; drop wins over the defaults only. */
export function effectiveCapabilities(sec: SecurityOptions | undefined): string[] {
  if (sec?.privileged) return [...ALL_CAPABILITIES];
  const add = (sec?.capAdd ?? []).map(normalizeCapability);
  const drop = (sec?.capDrop ?? []).map(normalizeCapability);
  if (add.includes('ALL')) return drop.includes('ALL') ? [...ALL_CAPABILITIES] : ALL_CAPABILITIES.filter((c) => !drop.includes(c));
  const base: string[] = drop.includes('ALL') ? [] : DEFAULT_CAPABILITIES.filter((c) => !drop.includes(c));
  for (const c of add) if (!base.includes(c)) base.push(c);
  return base;
}

/** Docker's --ulimit names → rlimit types. */
const ULIMITS: Record<string, string> = {
  as: 'RLIMIT_AS', core: 'RLIMIT_CORE', cpu: 'RLIMIT_CPU', data: 'RLIMIT_DATA', fsize: 'RLIMIT_FSIZE', locks: 'RLIMIT_LOCKS',
  memlock: 'RLIMIT_MEMLOCK', msgqueue: 'RLIMIT_MSGQUEUE', nice: 'RLIMIT_NICE', nofile: 'RLIMIT_NOFILE', nproc: 'RLIMIT_NPROC',
  rss: 'RLIMIT_RSS', rtprio: 'RLIMIT_RTPRIO', rttime: 'RLIMIT_RTTIME', sigpending: 'RLIMIT_SIGPENDING', stack: 'RLIMIT_STACK',
};

/** `nofile=1024[:2048]` → a Ulimit; -1 means unlimited. */
export function parseUlimit(text: string): Ulimit {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(text.trim());
  if (!m) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid ulimit argument: ${text} (want name=soft[:hard])`);
  const name = m[1]!;
  if (!ULIMITS[name]) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid ulimit type: ${name}`);
  const soft = Number(m[2]);
  const hard = m[3] === undefined ? soft : Number(m[3]);
  if (soft !== -1 && hard !== -1 && soft > hard) {
    throw new TbuildError('TB_INVALID_ARGUMENT', `ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  }
  return { name, soft, hard };
}

/**
 * RLIM_INFINITY is 2^64-1, which a JS number cannot hold: it is carried as 2^64 and the bundle
 * writer (`specJson`) prints it as the exact integer runc expects.
 */
export const RLIM_INFINITY = 2 ** 64;

function rlimitValue(n: number): number {
  return n < 0 ? RLIM_INFINITY : n;
}

/** The spec as runc reads it (exact RLIM_INFINITY). */
export function specJson(oci: OciSpec): string {
  return JSON.stringify(oci).replace(/:18446744073709552000(?=[,}])/g, ':18446744073709551615');
}

export interface SecurityHost {
  /** The builtin profile (undefined when unconfined). */
  seccomp?: SeccompProfile;
  /** True when `seccomp` is the built-in profile, which gets Docker's capability gates. */
  seccompIsDefault: boolean;
  platform: Platform;
  /** Device nodes to create: --device mappings, or every host device when privileged. */
  devices: OciDevice[];
  /** Host path of the init binary when `init` is set. */
  initPath?: string;
  /** Our own bounding set: no container can hold more (e.g. when tbuild itself runs in a container). */
  available?: readonly string[];
}

/** Mounts the security options add: the init binary and a sized /dev/shm. Pure. */
export function withSecurityMounts(spec: RunSpec, initPath: string | undefined): RunSpec {
  const sec = spec.security;
  if (!sec || (!sec.init && !sec.shmSize)) return spec;
  const mounts: ContainerMount[] = [...spec.mounts];
  let process = spec.process;
  if (sec.init) {
    if (!initPath) throw new TbuildError('TB_INIT_MISSING', '--init needs an init binary; install tini (apt-get install tini)');
    mounts.push({ destination: INIT_DESTINATION, type: 'bind', source: initPath, options: ['rbind', 'ro'] });
    // `--` ends tini's own options, so the command's flags reach the command.
    process = { ...process, args: [INIT_DESTINATION, '--', ...process.args] };
  }
  if (sec.shmSize && !spec.mounts.some((m) => m.destination === '/dev/shm')) {
    mounts.push({ destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${sec.shmSize}`] });
  }
  return { ...spec, mounts, process };
}

/** Capabilities, seccomp, devices, rlimits, no-new-privileges and privileged mode onto `oci`. Pure. */
export function applySecurity(oci: OciSpec, sec: SecurityOptions | undefined, host: SecurityHost): OciSpec {
  const caps = effectiveCapabilities(sec).filter((c) => !host.available || host.available.includes(c));
  const root = oci.process.user.uid === 0;
  oci.process.capabilities = { bounding: [...caps], effective: root ? [...caps] : [], permitted: root ? [...caps] : [] };
  oci.process.noNewPrivileges = Boolean(sec?.noNewPrivileges);
  for (const u of sec?.ulimits ?? []) {
    const type = ULIMITS[u.name]!;
    const l = { type, soft: rlimitValue(u.soft), hard: rlimitValue(u.hard) };
    const i = oci.process.rlimits.findIndex((r) => r.type === type);
    if (i >= 0) oci.process.rlimits[i] = l;
    else oci.process.rlimits.push(l);
  }
  if (host.seccomp && !sec?.privileged) {
    oci.linux.seccomp = convertProfile(host.seccomp, caps, host.platform, host.seccompIsDefault);
  }
  if (host.devices.length) {
    oci.linux.devices = host.devices.map(({ access: _access, ...d }) => d);
    if (!sec?.privileged) {
      for (const d of host.devices) {
        oci.linux.resources.devices.push({ allow: true, type: d.type, major: d.major, minor: d.minor, access: d.access ?? 'rwm' });
      }
    }
  }
  if (sec?.privileged) {
    oci.linux.maskedPaths = [];
    oci.linux.readonlyPaths = [];
    oci.linux.resources.devices = [{ allow: true, access: 'rwm' }];
    for (const m of oci.mounts) {
      if ((m.destination === '/sys' || m.destination === '/sys/fs/cgroup') && m.options) m.options = m.options.filter((o) => o !== 'ro');
    }
  }
  return oci;
}
