import { readFileSync, statSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { TbuildError } from '../../errors.js';
import { ia32Runs } from '../../util/ia32.js';
import type { SeccompChoice } from './types.js';

/**
 * Seccomp profiles in the Docker / containers-common JSON format, converted into the runtime
 * spec's `linux.seccomp` for one container: rules conditional on capabilities, architectures and
 * kernel versions are resolved against that container, and only the native architecture and its
 * compat ones are kept (that is all a process here can execute).
 */

export interface ProfileArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

interface ProfileFilter {
  caps?: string[];
  arches?: string[];
  minKernel?: string;
}

export interface ProfileRule {
  name?: string;
  names?: string[];
  action: string;
  errnoRet?: number;
  args?: ProfileArg[] | null;
  includes?: ProfileFilter | null;
  excludes?: ProfileFilter | null;
}

/** A profile as a user or containers-common writes it. */
export interface SeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: Array<{ architecture: string; subArchitectures?: string[] }> | null;
  flags?: string[];
  syscalls?: ProfileRule[] | null;
}

export interface OciSeccompRule {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: Array<{ index: number; value: number; valueTwo: number; op: string }>;
}

/** `linux.seccomp` of the runtime spec. */
export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  syscalls: OciSeccompRule[];
}

/** Node's arch → (libseccomp's name, the name profiles use in includes/excludes.arches). */
const ARCHES: Record<string, { scmp: string; name: string }> = {
  x64: { scmp: 'SCMP_ARCH_X86_64', name: 'amd64' },
  ia32: { scmp: 'SCMP_ARCH_X86', name: 'x86' },
  arm64: { scmp: 'SCMP_ARCH_AARCH64', name: 'arm64' },
  arm: { scmp: 'SCMP_ARCH_ARM', name: 'arm' },
  s390x: { scmp: 'SCMP_ARCH_S390X', name: 's390x' },
  ppc64: { scmp: 'SCMP_ARCH_PPC64LE', name: 'ppc64le' },
  riscv64: { scmp: 'SCMP_ARCH_RISCV64', name: 'riscv64' },
};

export interface Platform {
  /** Node's `process.arch`. */
  arch: string;
  /** `uname -r`. */
  kernel: string;
  /**
   * Compat architectures this kernel was built without (e.g. x32): no process can make their
   * system calls, so the filter leaves them out (each architecture costs runc a compile pass).
   */
  missingArches?: string[];
}

/** This host, as far as known: call `probeIa32()` first to learn whether 32-bit x86 code runs. */
export function hostPlatform(): Platform {
  platform ??= { arch: process.arch, kernel: release(), missingArches: missingCompatArches(kernelConfig()) };
  if (ia32Runs() === false && !platform.missingArches!.includes('SCMP_ARCH_X86')) {
    platform = { ...platform, missingArches: [...platform.missingArches!, 'SCMP_ARCH_X86'] };
  }
  return platform;
}

let platform: Platform | undefined;

/** The running kernel's build config, when it is published (/proc/config.gz or /boot). */
function kernelConfig(): string | undefined {
  try {
    return gunzipSync(readFileSync('/proc/config.gz')).toString();
  } catch {
    try {
      return readFileSync(`/boot/config-${release()}`, 'utf8');
    } catch {
      return undefined;
    }
  }
}

/** Compat arches whose kernel option is explicitly "not set"; unknown config keeps them all. */
export function missingCompatArches(config: string | undefined): string[] {
  if (!config) return [];
  const off = (opt: string) => new RegExp(`^# ${opt} is not set$`, 'm').test(config) || !new RegExp(`^${opt}=`, 'm').test(config);
  const out: string[] = [];
  if (off('CONFIG_X86_X32_ABI') && off('CONFIG_X86_X32')) out.push('SCMP_ARCH_X32');
  if (off('CONFIG_IA32_EMULATION')) out.push('SCMP_ARCH_X86');
  if (off('CONFIG_COMPAT')) out.push('SCMP_ARCH_ARM');
  return out;
}

const EPERM = 1;
const ENOSYS = 38;

/** Namespace flags of clone(2): CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET. */
const CLONE_NAMESPACE_FLAGS = 0x7e020000;

/**
 * Where containers-common is looser than Docker's default profile for a container without the
 * matching capability (podman needs user namespaces inside rootless containers; Docker does not
 * give them out). Each syscall here is denied with EPERM unless the container holds the capability.
 * `null` means never allowed by the default profile.
 */
const DOCKER_GATES: Record<string, string | null> = {
  unshare: 'CAP_SYS_ADMIN',
  setns: 'CAP_SYS_ADMIN',
  mount: 'CAP_SYS_ADMIN',
  umount: 'CAP_SYS_ADMIN',
  umount2: 'CAP_SYS_ADMIN',
  mount_setattr: 'CAP_SYS_ADMIN',
  move_mount: 'CAP_SYS_ADMIN',
  open_tree: 'CAP_SYS_ADMIN',
  fsopen: 'CAP_SYS_ADMIN',
  fsconfig: 'CAP_SYS_ADMIN',
  fsmount: 'CAP_SYS_ADMIN',
  fspick: 'CAP_SYS_ADMIN',
  pivot_root: 'CAP_SYS_ADMIN',
  syslog: 'CAP_SYSLOG',
  reboot: 'CAP_SYS_BOOT',
  pidfd_getfd: 'CAP_SYS_PTRACE',
  get_mempolicy: 'CAP_SYS_NICE',
  set_mempolicy: 'CAP_SYS_NICE',
  mbind: 'CAP_SYS_NICE',
  // The kernel keyring is not namespaced: a container could read or fill the host's keys.
  keyctl: null,
  add_key: null,
  request_key: null,
};

/**
 * The text of a profile: the built-in one from `defaultPath` (cached per file version), or a
 * custom one given inline. Undefined means unconfined.
 */
export function loadProfile(choice: SeccompChoice, defaultPath: string): SeccompProfile | undefined {
  if (choice.mode === 'unconfined') return undefined;
  if (choice.mode === 'custom') return parseProfile(choice.profile, 'the seccomp profile given with --security-opt');
  let mtime: number;
  try {
    mtime = statSync(defaultPath).mtimeMs;
  } catch {
    throw new TbuildError(
      'TB_SECCOMP_PROFILE_MISSING',
      `default seccomp profile ${defaultPath} not found; install it (Debian/Ubuntu: apt-get install golang-github-containers-common) or run with --security-opt seccomp=unconfined`,
    );
  }
  if (cached?.path === defaultPath && cached.mtime === mtime) return cached.profile;
  const profile = parseProfile(readFileSync(defaultPath, 'utf8'), defaultPath);
  cached = { path: defaultPath, mtime, profile };
  return profile;
}

let cached: { path: string; mtime: number; profile: SeccompProfile } | undefined;

export function parseProfile(text: string, what: string): SeccompProfile {
  let p: unknown;
  try {
    p = JSON.parse(text);
  } catch (err) {
    throw new TbuildError('TB_SECCOMP_PROFILE_INVALID', `${what} is not valid JSON: ${(err as Error).message}`);
  }
  const o = p as SeccompProfile;
  if (!o || typeof o !== 'object' || typeof o.defaultAction !== 'string') {
    throw new TbuildError('TB_SECCOMP_PROFILE_INVALID', `${what} has no defaultAction`);
  }
  if (o.syscalls != null && !Array.isArray(o.syscalls)) throw new TbuildError('TB_SECCOMP_PROFILE_INVALID', `${what}: syscalls must be an array`);
  return o;
}

function kernelAtLeast(kernel: string, min: string): boolean {
  const k = kernel.split(/[.-]/).map((x) => parseInt(x, 10));
  const m = min.split('.').map((x) => parseInt(x, 10));
  for (let i = 0; i < m.length; i++) {
    const a = k[i] ?? 0;
    const b = m[i] ?? 0;
    if (Number.isNaN(a) || a !== b) return !Number.isNaN(a) && a > b;
  }
  return true;
}

function applies(rule: ProfileRule, caps: ReadonlySet<string>, arch: string, kernel: string): boolean {
  const inc = rule.includes ?? {};
  const exc = rule.excludes ?? {};
  if (inc.arches?.length && !inc.arches.includes(arch)) return false;
  if (exc.arches?.length && exc.arches.includes(arch)) return false;
  if (inc.caps?.length && !inc.caps.every((c) => caps.has(c))) return false;
  if (exc.caps?.length && exc.caps.some((c) => caps.has(c))) return false;
  if (inc.minKernel && !kernelAtLeast(kernel, inc.minKernel)) return false;
  return true;
}

/**
 * Convert `profile` for a container whose bounding set is `caps`. With `dockerDefaults` (the
 * built-in profile) the syscalls Docker keeps behind a capability are denied without it.
 */
export function convertProfile(
  profile: SeccompProfile,
  caps: readonly string[],
  platform: Platform,
  dockerDefaults: boolean,
): OciSeccomp {
  const capSet = new Set(caps);
  const native = ARCHES[platform.arch];
  let architectures: string[] | undefined;
  if (profile.archMap?.length && native) {
    const entry = profile.archMap.find((a) => a.architecture === native.scmp);
    const missing = platform.missingArches ?? [];
    architectures = [native.scmp, ...(entry?.subArchitectures ?? []).filter((a) => !missing.includes(a))];
  } else if (profile.architectures?.length) {
    architectures = [...profile.architectures];
  }
  const archName = native?.name ?? platform.arch;
  const syscalls: OciSeccompRule[] = [];
  for (const rule of profile.syscalls ?? []) {
    if (!applies(rule, capSet, archName, platform.kernel)) continue;
    const names = rule.names?.length ? [...rule.names] : rule.name ? [rule.name] : [];
    if (!names.length) continue;
    const out: OciSeccompRule = { names, action: rule.action };
    if (rule.errnoRet !== undefined) out.errnoRet = rule.errnoRet;
    if (rule.args?.length) out.args = rule.args.map((a) => ({ index: a.index, value: a.value, valueTwo: a.valueTwo ?? 0, op: a.op }));
    syscalls.push(out);
  }
  let defaultErrnoRet = profile.defaultErrnoRet;
  let rules = syscalls;
  if (dockerDefaults) {
    tighten(rules, capSet, archName);
    if (profile.defaultAction === 'SCMP_ACT_ERRNO') {
      // Docker's default profile answers EPERM to what it does not allow (runc still answers
      // ENOSYS past the newest syscall the profile names, so libc fallbacks work); rules that
      // only said EPERM become the default. runc compiles every name for every container, at
      // about 16 µs a name, so each one left out is start-up time saved on every RUN.
      // A name denied outright stays denied: runc skips rules that repeat the default, so a
      // conditional allow of the same name elsewhere would otherwise be all that is left of it.
      defaultErrnoRet = EPERM;
      const repeatsDefault = (r: OciSeccompRule) => r.action === 'SCMP_ACT_ERRNO' && (r.errnoRet ?? EPERM) === EPERM && !r.args?.length;
      const denied = new Set(rules.filter(repeatsDefault).flatMap((r) => r.names));
      rules = rules.filter((r) => !repeatsDefault(r));
      for (const r of rules) r.names = r.names.filter((n) => !denied.has(n));
    }
    if (architectures?.length === 1 && architectures[0] === 'SCMP_ARCH_X86_64') {
      for (const r of rules) r.names = r.names.filter((n) => !NOT_X86_64_SYSCALLS.has(n));
    }
  }
  return {
    defaultAction: profile.defaultAction,
    ...(defaultErrnoRet !== undefined ? { defaultErrnoRet } : {}),
    ...(architectures ? { architectures } : {}),
    ...(profile.flags?.length ? { flags: [...profile.flags] } : {}),
    syscalls: rules.filter((r) => r.names.length),
  };
}

/**
 * Names in the default profiles that are no system call of the x86_64 ABI: i386's own (the
 * `*32`, `*64` and `*_time64` variants, `socketcall`, `ipc`, old stat and signal calls) and other
 * architectures' (`syscall`, `swapcontext`, `pciconfig_*`). libseccomp 2.5 knows each as a
 * pseudo-syscall on x86_64 (a negative number no process can make), yet runc pays to compile
 * it; a filter for x86_64 alone drops them. A name missing here only costs time, never access.
 */
export const NOT_X86_64_SYSCALLS: ReadonlySet<string> = new Set(
  (
    '_llseek _newselect bdflush chown32 clock_adjtime64 clock_getres_time64 clock_gettime64 clock_nanosleep_time64 ' +
    'clock_settime64 fadvise64_64 fchown32 fcntl64 fstat64 fstatat64 fstatfs64 ftruncate64 futex_time64 getegid32 ' +
    'geteuid32 getgid32 getgroups32 getresgid32 getresuid32 getuid32 io_pgetevents_time64 ipc lchown32 lstat64 mmap2 ' +
    'mq_timedreceive_time64 mq_timedsend_time64 nice oldfstat oldlstat oldolduname oldstat olduname pciconfig_iobase ' +
    'pciconfig_read pciconfig_write ppoll_time64 pselect6_time64 readdir recv recvmmsg_time64 rt_sigtimedwait_time64 ' +
    'sched_rr_get_interval_time64 semtimedop_time64 send sendfile64 setfsgid32 setfsuid32 setgid32 setgroups32 ' +
    'setregid32 setresgid32 setresuid32 setreuid32 setuid32 sgetmask sigaction signal sigpending sigprocmask ' +
    'sigreturn sigsuspend socketcall ssetmask stat64 statfs64 stime swapcontext syscall timer_gettime64 ' +
    'timer_settime64 timerfd timerfd_gettime64 timerfd_settime64 truncate64 ugetrlimit umount utimensat_time64 ' +
    'vm86 vm86old waitpid'
  ).split(' '),
);

function tighten(rules: OciSeccompRule[], caps: ReadonlySet<string>, arch: string): void {
  const denied = new Set(Object.entries(DOCKER_GATES).filter(([, cap]) => cap === null || !caps.has(cap)).map(([n]) => n));
  // Drop every other rule naming a denied syscall (e.g. arg-conditional allows), so the EPERM
  // rule below is the only one and libseccomp sees no conflicting actions.
  for (const r of rules) r.names = r.names.filter((n) => !denied.has(n));
  if (denied.size) rules.push({ names: [...denied].sort(), action: 'SCMP_ACT_ERRNO', errnoRet: EPERM });
  if (caps.has('CAP_SYS_ADMIN')) return;
  // clone stays allowed without namespace flags (fork and threads need it); s390 swaps the
  // first two arguments. clone3 passes its flags in memory seccomp cannot read: ENOSYS makes
  // libc fall back to clone, where the flags are checked.
  for (const r of rules) r.names = r.names.filter((n) => n !== 'clone' && n !== 'clone3');
  const index = arch === 's390x' || arch === 's390' ? 1 : 0;
  rules.push({ names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] });
  rules.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
}
