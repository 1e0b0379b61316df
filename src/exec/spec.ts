import type { RunSpec, ContainerMount, ProcessSpec } from './types.js';
import type { ResolvedUser } from './user.js';

/** The subset of the OCI runtime spec (1.0.2) that tbuild generates. */
export interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export interface OciRlimit {
  type: string;
  hard: number;
  soft: number;
}

export interface OciProcess {
  terminal?: boolean;
  user: { uid: number; gid: number; additionalGids?: number[] };
  args: string[];
  env: string[];
  cwd: string;
  capabilities: { bounding: string[]; effective: string[]; permitted: string[]; inheritable?: string[]; ambient?: string[] };
  rlimits: OciRlimit[];
  noNewPrivileges: boolean;
  oomScoreAdj?: number;
}

export interface OciDeviceRule {
  allow: boolean;
  type?: 'a' | 'c' | 'b';
  major?: number;
  minor?: number;
  access?: string;
}

export interface OciResources {
  devices: OciDeviceRule[];
  memory?: { limit?: number; swap?: number };
  cpu?: { shares?: number; quota?: number; period?: number };
  pids?: { limit: number };
}

/** A device node runc creates in the container's /dev. */
export interface OciDevice {
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
  /** Cgroup access granted (not part of the runtime spec's device entry; stripped when written). */
  access?: string;
}

export interface OciSpec {
  ociVersion: string;
  process: OciProcess;
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: OciMount[];
  linux: {
    namespaces: Array<{ type: string; path?: string }>;
    maskedPaths: string[];
    readonlyPaths: string[];
    resources: OciResources;
    cgroupsPath?: string;
    devices?: OciDevice[];
    /** See security/seccomp.ts. */
    seccomp?: unknown;
  };
}

export type HostRlimits = Partial<Record<string, { soft: number; hard: number }>>;

export interface SpecContext {
  user: ResolvedUser;
  /** The host's limits (from /proc/self/limits); container rlimits are clamped to their hard values. */
  hostRlimits?: HostRlimits;
  cgroupsPath?: string;
  /** Host files bind-mounted as the container's /etc/hosts, /etc/resolv.conf, /etc/hostname. */
  etcFiles?: { hosts: string; resolvConf: string; hostname: string };
  /** Hostname when the RunSpec names none. */
  defaultHostname?: string;
  /** Whether the memory controller accounts swap (cgroup v1 memory.memsw.*, v2 memory.swap.max). */
  swapAccounting?: boolean;
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Docker's default capability set (moby oci/caps/defaults.go). */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
] as const;

export const MASKED_PATHS = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** What dockerd passes on by default: its own open-files limit (1048576 on most hosts). */
const DEFAULT_RLIMITS: OciRlimit[] = [{ type: 'RLIMIT_NOFILE', soft: 1048576, hard: 1048576 }];

function standardMounts(network: RunSpec['network']): OciMount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    // Without a network namespace of its own a container may not mount a fresh sysfs; bind the host's.
    network === 'host'
      ? { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] }
      : { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
  ];
}

/** Docker's device cgroup rules: deny all, then the standard character devices and mknod of anything. */
const DEVICE_RULES: OciDeviceRule[] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', access: 'm' },
  { allow: true, type: 'b', access: 'm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' },
  { allow: true, type: 'c', major: 136, access: 'rwm' },
  { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' },
];

/** `env` with PATH (and HOME from the user) added when missing; later duplicates win, as in Docker. */
export function processEnv(env: string[], user: ResolvedUser): string[] {
  const byKey = new Map<string, string>();
  for (const e of env) {
    const i = e.indexOf('=');
    byKey.set(i < 0 ? e : e.slice(0, i), e);
  }
  if (!byKey.has('PATH')) byKey.set('PATH', `PATH=${DEFAULT_PATH}`);
  if (!byKey.has('HOME')) byKey.set('HOME', `HOME=${user.home || '/'}`);
  return [...byKey.values()];
}

export function clampRlimits(limits: OciRlimit[], host: HostRlimits | undefined): OciRlimit[] {
  return limits.map((l) => {
    const h = host?.[l.type];
    const hard = h ? Math.min(l.hard, h.hard) : l.hard;
    return { type: l.type, hard, soft: Math.min(l.soft, hard) };
  });
}

export function ociProcess(p: ProcessSpec, ctx: SpecContext): OciProcess {
  const caps = [...DEFAULT_CAPABILITIES];
  const { uid, gid, additionalGids } = ctx.user;
  return {
    terminal: Boolean(p.tty),
    user: { uid, gid, ...(additionalGids.length ? { additionalGids } : {}) },
    args: p.args,
    env: processEnv(p.env, ctx.user),
    cwd: p.cwd || '/',
    // Non-root processes get no effective/permitted caps (Docker drops them on setuid); the
    // bounding set still caps what a setuid binary could regain.
    capabilities: {
      bounding: caps,
      effective: uid === 0 ? caps : [],
      permitted: uid === 0 ? caps : [],
    },
    rlimits: clampRlimits(DEFAULT_RLIMITS, ctx.hostRlimits),
    // Docker's default; --security-opt no-new-privileges turns it on (security/apply.ts).
    noNewPrivileges: false,
  };
}

function userMount(m: ContainerMount): OciMount {
  if (m.type === 'tmpfs') return { destination: m.destination, type: 'tmpfs', source: 'tmpfs', options: m.options };
  const opts = m.options.length ? m.options : ['rbind'];
  return {
    destination: m.destination,
    type: 'bind',
    source: m.source,
    options: opts.some((o) => o === 'bind' || o === 'rbind') ? opts : ['rbind', ...opts],
  };
}

/** Turn a RunSpec into an OCI runtime spec with Docker's defaults. Pure: no I/O. */
export function buildOciSpec(spec: RunSpec, ctx: SpecContext): OciSpec {
  const namespaces: Array<{ type: string; path?: string }> = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }];
  if (typeof spec.network === 'object') namespaces.push({ type: 'network', path: spec.network.netns });
  else if (spec.network !== 'host') namespaces.push({ type: 'network' });

  const mounts = standardMounts(spec.network);
  if (ctx.etcFiles) {
    const ro = spec.readonlyRootfs ? ['ro'] : [];
    mounts.push(
      { destination: '/etc/hosts', type: 'bind', source: ctx.etcFiles.hosts, options: ['rbind', 'rprivate', ...ro] },
      { destination: '/etc/resolv.conf', type: 'bind', source: ctx.etcFiles.resolvConf, options: ['rbind', 'rprivate', ...ro] },
      { destination: '/etc/hostname', type: 'bind', source: ctx.etcFiles.hostname, options: ['rbind', 'rprivate', ...ro] },
    );
  }
  // A user mount replaces a standard one at the same destination (e.g. a bigger /dev/shm).
  for (const m of spec.mounts) {
    const i = mounts.findIndex((x) => x.destination === m.destination);
    if (i >= 0) mounts.splice(i, 1);
    mounts.push(userMount(m));
  }

  const resources: OciResources = { devices: DEVICE_RULES.map((d) => ({ ...d })) };
  const r = spec.resources;
  if (r?.memory) {
    resources.memory = { limit: r.memory, ...(ctx.swapAccounting ? { swap: r.memorySwap ?? r.memory } : {}) };
  }
  if (r && (r.cpuShares || r.cpuQuota || r.cpuPeriod)) {
    resources.cpu = {
      ...(r.cpuShares ? { shares: r.cpuShares } : {}),
      ...(r.cpuQuota ? { quota: r.cpuQuota, period: r.cpuPeriod ?? 100_000 } : r.cpuPeriod ? { period: r.cpuPeriod } : {}),
    };
  }
  if (r?.pidsLimit && r.pidsLimit > 0) resources.pids = { limit: r.pidsLimit };

  return {
    ociVersion: '1.0.2',
    process: ociProcess(spec.process, ctx),
    root: { path: spec.rootfs, readonly: Boolean(spec.readonlyRootfs) },
    hostname: spec.hostname ?? ctx.defaultHostname ?? 'tbuild',
    mounts,
    linux: {
      namespaces,
      maskedPaths: [...MASKED_PATHS],
      readonlyPaths: [...READONLY_PATHS],
      resources,
      ...(ctx.cgroupsPath ? { cgroupsPath: ctx.cgroupsPath } : {}),
    },
  };
}
