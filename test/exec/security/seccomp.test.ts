import { describe, test, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { convertProfile, loadProfile, missingCompatArches, parseProfile, type OciSeccomp } from '../../../src/exec/security/seccomp.js';
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
      expect(actions(p, n), n).toEqual(['SCMP_ACT_ERRNO:1']);
    }
    expect(actions(p, 'clone')).toEqual(['SCMP_ACT_ALLOW+args']);
    expect(actions(p, 'clone3')).toEqual(['SCMP_ACT_ERRNO:38']);
    expect(actions(p, 'personality').every((a) => a === 'SCMP_ACT_ALLOW+args')).toBe(true);
    expect(actions(p, 'chroot')).toEqual(['SCMP_ACT_ALLOW']); // CAP_SYS_CHROOT is a default capability
    expect(actions(p, 'bpf')).toEqual(['SCMP_ACT_ERRNO:1']);
    const admin = convertProfile(profile, [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'], amd64, true);
    for (const n of ['unshare', 'mount', 'clone', 'clone3', 'bpf']) expect(actions(admin, n), n).toEqual(['SCMP_ACT_ALLOW']);
    expect(actions(admin, 'keyctl')).toEqual(['SCMP_ACT_ERRNO:1']);
    // a custom profile is taken as written
    const custom = convertProfile(profile, DEFAULT_CAPABILITIES, amd64, false);
    expect(actions(custom, 'unshare')).toEqual(['SCMP_ACT_ALLOW']);
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
