import { describe, test, expect } from 'vitest';
import { buildOciSpec, clampRlimits, DEFAULT_PATH, type SpecContext } from '../../src/exec/spec.js';
import { parseLimits } from '../../src/exec/cgroups.js';
import type { RunSpec } from '../../src/exec/types.js';

const root: SpecContext = { user: { uid: 0, gid: 0, additionalGids: [0, 10], home: '/root' } };

function spec(extra: Partial<RunSpec> = {}): RunSpec {
  return { rootfs: '/r', process: { args: ['sh'], env: [], cwd: '/w', user: '' }, mounts: [], network: 'none', ...extra };
}

describe('buildOciSpec', () => {
  test('namespaces: pid, ipc, uts, mount and network unless host', () => {
    const none = buildOciSpec(spec(), root).linux.namespaces.map((n) => n.type).sort();
    expect(none).toEqual(['ipc', 'mount', 'network', 'pid', 'uts']);
    const host = buildOciSpec(spec({ network: 'host' }), root).linux.namespaces.map((n) => n.type).sort();
    expect(host).toEqual(['ipc', 'mount', 'pid', 'uts']);
  });

  test("Docker's default capabilities for root, none effective for other users", () => {
    const caps = buildOciSpec(spec(), root).process.capabilities;
    expect([...caps.bounding].sort()).toEqual(
      ['AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE', 'NET_RAW', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT'].map((c) => `CAP_${c}`),
    );
    expect(caps.effective).toEqual(caps.bounding);
    const user = buildOciSpec(spec(), { user: { uid: 1000, gid: 1000, additionalGids: [], home: '/' } }).process;
    expect(user.capabilities.effective).toEqual([]);
    expect(user.capabilities.bounding).toHaveLength(14);
    expect(user.user).toEqual({ uid: 1000, gid: 1000 });
    expect(user.noNewPrivileges).toBe(false);
  });

  test('masked and read-only paths', () => {
    const l = buildOciSpec(spec(), root).linux;
    expect(l.maskedPaths).toContain('/proc/kcore');
    expect(l.maskedPaths).toContain('/sys/firmware');
    expect(l.maskedPaths).toHaveLength(11);
    expect(l.readonlyPaths).toEqual(['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
  });

  test('standard mounts, etc files, user mounts replacing a standard one', () => {
    const s = buildOciSpec(
      spec({
        mounts: [
          { destination: '/dev/shm', type: 'tmpfs', source: '', options: ['size=1g'] },
          { destination: '/data', type: 'bind', source: '/host', options: ['ro'] },
        ],
      }),
      { ...root, etcFiles: { hosts: '/b/hosts', resolvConf: '/b/resolv.conf', hostname: '/b/hostname' } },
    );
    const by = new Map(s.mounts.map((m) => [m.destination, m]));
    expect([...by.keys()].slice(0, 7)).toEqual(['/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/mqueue', '/etc/hosts']);
    expect(by.get('/sys')).toMatchObject({ type: 'sysfs', options: expect.arrayContaining(['ro']) });
    expect(by.get('/sys/fs/cgroup')!.options).toContain('ro');
    expect(by.get('/etc/resolv.conf')).toMatchObject({ type: 'bind', source: '/b/resolv.conf' });
    expect(by.get('/dev/shm')).toEqual({ destination: '/dev/shm', type: 'tmpfs', source: 'tmpfs', options: ['size=1g'] });
    expect(by.get('/data')).toEqual({ destination: '/data', type: 'bind', source: '/host', options: ['rbind', 'ro'] });
    expect(s.mounts.filter((m) => m.destination === '/dev/shm')).toHaveLength(1);
    const host = buildOciSpec(spec({ network: 'host' }), root).mounts.find((m) => m.destination === '/sys');
    expect(host).toMatchObject({ type: 'bind', source: '/sys' });
  });

  test('env: default PATH and HOME added, given ones kept', () => {
    expect(buildOciSpec(spec(), root).process.env).toEqual([`PATH=${DEFAULT_PATH}`, 'HOME=/root']);
    const p = buildOciSpec(spec({ process: { args: ['x'], env: ['PATH=/x', 'A=1', 'A=2'], cwd: '', user: '' } }), root).process;
    expect(p.env).toEqual(['PATH=/x', 'A=2', 'HOME=/root']);
    expect(p.cwd).toBe('/');
  });

  test('rlimits clamp to the host hard limit', () => {
    const s = buildOciSpec(spec(), { ...root, hostRlimits: { RLIMIT_NOFILE: { soft: 1024, hard: 20000 } } });
    expect(s.process.rlimits).toEqual([{ type: 'RLIMIT_NOFILE', soft: 20000, hard: 20000 }]);
    expect(clampRlimits([{ type: 'RLIMIT_NPROC', soft: 50, hard: 100 }], { RLIMIT_NPROC: { soft: 1, hard: 10 } })).toEqual([
      { type: 'RLIMIT_NPROC', soft: 10, hard: 10 },
    ]);
  });

  test('parseLimits reads /proc/self/limits', () => {
    const text = 'Limit                     Soft Limit           Hard Limit           Units     \nMax open files            1024                 20000                files     \nMax cpu time              unlimited            unlimited            seconds   \n';
    expect(parseLimits(text)).toEqual({
      RLIMIT_NOFILE: { soft: 1024, hard: 20000 },
      RLIMIT_CPU: { soft: Number.MAX_SAFE_INTEGER, hard: Number.MAX_SAFE_INTEGER },
    });
  });

  test('cgroup resources, device rules, cgroups path, hostname, readonly root', () => {
    const s = buildOciSpec(
      spec({ hostname: 'h1', readonlyRootfs: true, resources: { memory: 1 << 26, cpuShares: 512, cpuQuota: 150_000, cpuPeriod: 100_000, pidsLimit: 64 } }),
      { ...root, cgroupsPath: '/tbuild/x', swapAccounting: true },
    );
    expect(s.linux.resources.memory).toEqual({ limit: 1 << 26, swap: 1 << 26 });
    expect(s.linux.resources.cpu).toEqual({ shares: 512, quota: 150_000, period: 100_000 });
    expect(s.linux.resources.pids).toEqual({ limit: 64 });
    expect(s.linux.resources.devices[0]).toEqual({ allow: false, access: 'rwm' });
    expect(s.linux.cgroupsPath).toBe('/tbuild/x');
    expect(s.hostname).toBe('h1');
    expect(s.root).toEqual({ path: '/r', readonly: true });
    const bare = buildOciSpec(spec(), root).linux.resources;
    expect(bare.memory).toBeUndefined();
    expect(bare.cpu).toBeUndefined();
    expect(bare.pids).toBeUndefined();
  });
});
