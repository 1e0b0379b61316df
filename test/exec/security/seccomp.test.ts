import { describe, test, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { convertProfile, loadProfile, missingCompatArches, NOT_X86_64_SYSCALLS, parseProfile, type OciSeccomp } from '../../../src/exec/security/seccomp.js';
import { DEFAULT_SECCOMP_PROFILE_PATH } from '../../../src/exec/security/types.js';
import { effectiveCapabilities, normalizeCapability, parseUlimit } from '../../../src/exec/security/apply.js';
import { DEFAULT_CAPABILITIES } from '../../../src/exec/spec.js';
import { isTbuildError } from '../../../src/errors.js';

const amd64 = { arch: 'x64', kernel: '6.1.0-13-amd64' };
const profile = parseProfile(readFileSync(DEFAULT_SECCOMP_PROFILE_PATH, 'utf8'), 'test');

/** The actions the converted profile gives `name` (unconditional rules only, plus arg-rule count). */
function actions(p: OciSeccomp, name: string): string[] {
  return p.syscalls.filter((r) => r.names.includes(name)).map((r) => `${r.action}${r.errnoRet !== undefined ? `:${r.errnoRet}` : ''}${r.args ? '+args' : ''}`);
}

/** What the filter answers `name` with: its rules' actions, or the default action when none names it. */
function answer(p: OciSeccomp, name: string): string {
  const a = actions(p, name);
  return a.length ? a.join(',') : `${p.defaultAction}:${p.defaultErrnoRet ?? ''}`;
}

describe('seccomp profile conversion', () => {
  test('native architecture and its compat ones only', () => {
    const p = convertProfile(profile, DEFAULT_CAPABILITIES, amd64, true);
    expect(p.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    expect(actions(p, 'arch_prctl')).toEqual(['SCMP_ACT_ALLOW']);
    expect(actions(p, 's390_runtime_instr')).toEqual([]);
    const arm = convertProfile(profile, DEFAULT_CAPABILITIES, { arch: 'arm64', kernel: '6.1' }, true);
    expect(arm.architectures).toEqual(['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
    expect(actions(arm, 'arch_prctl')).toEqual([]);
  });

  test("Docker's gates: user namespaces, mounts, keyrings denied without CAP_SYS_ADMIN; personality restricted", () => {
    const p = convertProfile(profile, DEFAULT_CAPABILITIES, amd64, true);
    for (const n of ['unshare', 'setns', 'mount', 'umount2', 'keyctl', 'add_key', 'request_key', 'pivot_root']) {
      expect(answer(p, n), n).toBe('SCMP_ACT_ERRNO:1');
    }
    expect(actions(p, 'clone')).toEqual(['SCMP_ACT_ALLOW+args']);
    expect(actions(p, 'clone3')).toEqual(['SCMP_ACT_ERRNO:38']);
    expect(actions(p, 'personality').every((a) => a === 'SCMP_ACT_ALLOW+args')).toBe(true);
    expect(actions(p, 'chroot')).toEqual(['SCMP_ACT_ALLOW']); // CAP_SYS_CHROOT is a default capability
    expect(answer(p, 'bpf')).toBe('SCMP_ACT_ERRNO:1');
    const admin = convertProfile(profile, [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'], amd64, true);
    for (const n of ['unshare', 'mount', 'clone', 'clone3', 'bpf']) expect(actions(admin, n), n).toEqual(['SCMP_ACT_ALLOW']);
    expect(answer(admin, 'keyctl')).toBe('SCMP_ACT_ERRNO:1');
    // a custom profile is taken as written
    const custom = convertProfile(profile, DEFAULT_CAPABILITIES, amd64, false);
    expect(actions(custom, 'unshare')).toEqual(['SCMP_ACT_ALLOW']);
  });

  test("Docker's default answer, EPERM, and no rule that only repeats it", () => {
    const p = convertProfile(profile, DEFAULT_CAPABILITIES, amd64, true);
    expect(profile.defaultErrnoRet).toBe(38); // containers-common answers ENOSYS…
    expect(p.defaultErrnoRet).toBe(1); // …Docker EPERM
    expect(p.syscalls.filter((r) => r.action === 'SCMP_ACT_ERRNO' && (r.errnoRet ?? 1) === 1 && !r.args)).toEqual([]);
    // what containers-common denied with EPERM by name is still denied with EPERM
    for (const n of ['kexec_load', 'init_module', 'acct', 'settimeofday', 'iopl', 'open_by_handle_at', 'perf_event_open']) {
      expect(answer(p, n), n).toBe('SCMP_ACT_ERRNO:1');
    }
    // a custom profile keeps its own default
    expect(convertProfile(profile, DEFAULT_CAPABILITIES, amd64, false).defaultErrnoRet).toBe(38);
    // a name the profile denies outright and allows under a condition elsewhere stays denied
    const both = parseProfile(
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ERRNO',
        defaultErrnoRet: 38,
        syscalls: [
          { names: ['read', 'ptrace'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0, op: 'SCMP_CMP_EQ' }] },
          { names: ['ptrace'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
        ],
      }),
      't',
    );
    const c = convertProfile(both, DEFAULT_CAPABILITIES, amd64, true);
    expect(answer(c, 'ptrace')).toBe('SCMP_ACT_ERRNO:1');
    expect(answer(c, 'read')).toBe('SCMP_ACT_ALLOW+args');
  });

  test("a filter for x86_64 alone leaves out names that are no x86_64 system call; i386's stay while i386 code can run", () => {
    const only = convertProfile(profile, DEFAULT_CAPABILITIES, { ...amd64, missingArches: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] }, true);
    expect(only.architectures).toEqual(['SCMP_ARCH_X86_64']);
    const names = only.syscalls.flatMap((r) => r.names);
    expect(names.filter((n) => NOT_X86_64_SYSCALLS.has(n))).toEqual([]);
    for (const n of ['read', 'openat', 'execve', 'arch_prctl', 'clone', 'clone3', 'personality']) expect(names, n).toContain(n);
    const both = convertProfile(profile, DEFAULT_CAPABILITIES, { ...amd64, missingArches: ['SCMP_ARCH_X32'] }, true);
    expect(answer(both, 'chown32')).toBe('SCMP_ACT_ALLOW');
    expect(answer(both, 'socketcall')).toBe('SCMP_ACT_ALLOW');
  });

  test('every name left out for x86_64 is one libseccomp knows only as a pseudo-syscall there', () => {
    // libseccomp itself (the library runc compiles filters with), through python3's ctypes
    const script = [
      'import ctypes, sys',
      "lib = ctypes.CDLL('libseccomp.so.2')",
      'for n in sys.stdin.read().split():',
      '    print(n, lib.seccomp_syscall_resolve_name_arch(0xc000003e, n.encode()))',
    ].join('\n');
    const r = spawnSync('python3', ['-c', script], { input: [...NOT_X86_64_SYSCALLS].join(' '), encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const resolved = r.stdout.trim().split('\n').map((l) => l.split(' '));
    expect(resolved).toHaveLength(NOT_X86_64_SYSCALLS.size);
    expect(resolved.filter(([, nr]) => Number(nr) >= 0)).toEqual([]);
  });

  test('compat architectures the kernel was built without are left out', () => {
    expect(missingCompatArches('CONFIG_IA32_EMULATION=y\n# CONFIG_X86_X32_ABI is not set\nCONFIG_COMPAT=y\n')).toEqual(['SCMP_ARCH_X32']);
    expect(missingCompatArches('CONFIG_IA32_EMULATION=y\nCONFIG_X86_X32_ABI=y\nCONFIG_COMPAT=y\n')).toEqual([]);
    expect(missingCompatArches(undefined)).toEqual([]);
    const p = convertProfile(profile, DEFAULT_CAPABILITIES, { ...amd64, missingArches: ['SCMP_ARCH_X32'] }, true);
    expect(p.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86']);
  });

  test('minKernel and a plain architectures list', () => {
    const p = parseProfile(
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ERRNO',
        architectures: ['SCMP_ARCH_X86_64'],
        syscalls: [{ names: ['ptrace'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '4.8' } }],
      }),
      't',
    );
    expect(actions(convertProfile(p, [], amd64, false), 'ptrace')).toEqual(['SCMP_ACT_ALLOW']);
    expect(actions(convertProfile(p, [], { arch: 'x64', kernel: '4.4.0' }, false), 'ptrace')).toEqual([]);
    expect(convertProfile(p, [], amd64, false).architectures).toEqual(['SCMP_ARCH_X86_64']);
  });

  test('a missing default profile and an invalid custom one fail clearly', () => {
    expect(() => loadProfile({ mode: 'default' }, '/nonexistent/seccomp.json')).toThrow(/apt-get install golang-github-containers-common/);
    try {
      loadProfile({ mode: 'custom', profile: '{not json' }, DEFAULT_SECCOMP_PROFILE_PATH);
      expect.unreachable();
    } catch (e) {
      expect(isTbuildError(e) && e.code).toBe('TB_SECCOMP_PROFILE_INVALID');
    }
    expect(loadProfile({ mode: 'unconfined' }, '/nonexistent')).toBeUndefined();
  });
});

describe('capabilities and ulimits', () => {
  test('names with or without CAP_, any case; ALL; unknown names refused', () => {
    expect(normalizeCapability('net_admin')).toBe('CAP_NET_ADMIN');
    expect(normalizeCapability('CAP_SYS_ADMIN')).toBe('CAP_SYS_ADMIN');
    expect(() => normalizeCapability('FLY')).toThrow('unknown capability: "FLY"');
    expect(effectiveCapabilities({ capDrop: ['ALL'], capAdd: ['chown'] })).toEqual(['CAP_CHOWN']);
    expect(effectiveCapabilities({ capAdd: ['ALL'], capDrop: ['NET_RAW'] })).not.toContain('CAP_NET_RAW');
    expect(effectiveCapabilities({ capAdd: ['ALL'] })).toHaveLength(41);
    expect(effectiveCapabilities({ capDrop: ['mknod'] })).toEqual(DEFAULT_CAPABILITIES.filter((c) => c !== 'CAP_MKNOD'));
    expect(effectiveCapabilities(undefined)).toEqual([...DEFAULT_CAPABILITIES]);
  });

  test('--ulimit syntax', () => {
    expect(parseUlimit('nofile=1024:2048')).toEqual({ name: 'nofile', soft: 1024, hard: 2048 });
    expect(parseUlimit('core=-1')).toEqual({ name: 'core', soft: -1, hard: -1 });
    expect(() => parseUlimit('bogus=1')).toThrow('invalid ulimit type: bogus');
    expect(() => parseUlimit('nofile=10:5')).toThrow(/soft limit/);
  });
});
