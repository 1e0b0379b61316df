import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import { Writable } from 'node:stream';
import { readdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, isRoot } from '../../support/tmp.js';
import { busyboxRootfs, runcContainers, processesUnder } from '../support/rootfs.js';
import { createRuncExecutor } from '../../../src/exec/runc.js';
import type { RunSpec, ExitStatus } from '../../../src/exec/types.js';
import type { SecurityOptions } from '../../../src/exec/security/types.js';
import { probeIa32 } from '../../../src/util/ia32.js';

function sink(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(c, _e, cb) {
      chunks.push(Buffer.from(c));
      cb();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString() };
}

/** The value of `Key:` in /proc/self/status output. */
function status(text: string, key: string): string {
  return new RegExp(`^${key}:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
}

describe.runIf(isRoot)('security options through runc', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let rootfs: string;
  let seq = 0;

  beforeAll(async () => {
    tmp = await tempDir('tbsec-');
    rootfs = await busyboxRootfs(join(tmp.path, 'rootfs'));
  });

  afterAll(async () => {
    expect(await runcContainers(join(tmp.path, 'runc'))).toEqual([]);
    expect(await processesUnder(rootfs)).toEqual([]);
    expect(existsSync(join(tmp.path, 'exec')) ? (await readdir(join(tmp.path, 'exec'))).filter((n) => !n.startsWith('.')) : []).toEqual([]);
    await tmp.cleanup();
  });

  async function run(args: string[], security?: SecurityOptions, extra: Partial<RunSpec> = {}): Promise<{ status: ExitStatus; out: string; err: string }> {
    const ex = createRuncExecutor({ root: tmp.path, runtime: 'runc' });
    const out = sink();
    const err = sink();
    const spec: RunSpec = {
      rootfs,
      process: { args, env: [], cwd: '/', user: '' },
      mounts: [],
      network: 'none',
      ...(security ? { security } : {}),
      ...extra,
    };
    const s = await ex.run(`sec${process.pid}-${++seq}`, spec, { stdout: out.stream, stderr: err.stream });
    return { status: s, out: out.text(), err: err.text() };
  }

  test('the default profile is in force: Seccomp 2, no-new-privileges off, user namespaces denied', async () => {
    const r = await run(['cat', '/proc/self/status']);
    expect(status(r.out, 'Seccomp')).toBe('2');
    expect(status(r.out, 'NoNewPrivs')).toBe('0');
    const u = await run(['unshare', '-U', '-r', 'true']);
    expect(u.status.exitCode).not.toBe(0);
    expect(u.err).toMatch(/Operation not permitted/);
    // fork (clone without namespace flags) still works
    expect((await run(['sh', '-c', '(true) && echo forked'])).out).toBe('forked\n');
  });

  test.runIf(process.arch === 'x64')('the filter compiles x86 syscalls only where this kernel runs 32-bit code', async () => {
    const runs = await probeIa32();
    const id = `sec${process.pid}-arch`;
    const config = join(tmp.path, 'exec', id, 'config.json');
    const ex = createRuncExecutor({ root: tmp.path, runtime: 'runc' });
    const running = ex.run(id, { rootfs, process: { args: ['sleep', '2'], env: [], cwd: '/', user: '' }, mounts: [], network: 'none' }, {});
    while (!existsSync(config)) await new Promise((r) => setTimeout(r, 10));
    const arches = (JSON.parse(await readFile(config, 'utf8')) as { linux: { seccomp: { architectures: string[] } } }).linux.seccomp.architectures;
    expect(arches[0]).toBe('SCMP_ARCH_X86_64');
    expect(arches.includes('SCMP_ARCH_X86')).toBe(runs !== false);
    expect((await running).exitCode).toBe(0);
  });

  test('seccomp=unconfined lets unshare -U through; a custom profile can deny mkdir', async () => {
    const u = await run(['sh', '-c', 'cat /proc/self/status; unshare -U -r id -u'], { seccomp: { mode: 'unconfined' } });
    expect(status(u.out, 'Seccomp')).toBe('0');
    expect(u.status.exitCode).toBe(0);
    expect(u.out.trim().split('\n').pop()).toBe('0');
    const profile = JSON.stringify({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
    });
    const m = await run(['mkdir', '/tmp/x'], { seccomp: { mode: 'custom', profile } });
    expect(m.status.exitCode).not.toBe(0);
    expect(m.err).toMatch(/Operation not permitted/);
    expect((await run(['sh', '-c', 'mkdir /tmp/y && echo ok'])).out).toBe('ok\n');
  });

  test('no-new-privileges, cap-drop ALL and cap-add', async () => {
    const r = await run(['cat', '/proc/self/status'], { noNewPrivileges: true, capDrop: ['ALL'], capAdd: ['net_admin'] });
    expect(status(r.out, 'NoNewPrivs')).toBe('1');
    expect(BigInt('0x' + status(r.out, 'CapEff'))).toBe(1n << 12n); // CAP_NET_ADMIN only
    const chown = await run(['chown', '1:1', '/tmp'], { capDrop: ['CAP_CHOWN'] });
    expect(chown.status.exitCode).not.toBe(0);
  });

  test('privileged: every capability, no seccomp, host devices, unmasked /proc', async () => {
    const r = await run(['sh', '-c', 'cat /proc/self/status; ls /dev; wc -c < /proc/kcore >/dev/null && echo kcore-readable'], { privileged: true });
    expect(status(r.out, 'Seccomp')).toBe('0');
    // every capability tbuild itself holds
    const own = /^CapBnd:\s*(\S+)$/m.exec(await readFile('/proc/self/status', 'utf8'))![1]!;
    expect(status(r.out, 'CapEff')).toBe(own);
    expect(r.out).toContain('loop0');
    const plain = await run(['ls', '/dev']);
    expect(plain.out).not.toContain('loop0');
  });

  test('--device, --ulimit, --init, --shm-size', async () => {
    const d = await run(['sh', '-c', 'ls -l /dev/mynull; echo hi > /dev/mynull && echo wrote'], {
      devices: [{ pathOnHost: '/dev/null', pathInContainer: '/dev/mynull', permissions: 'rwm' }],
    });
    expect(d.out).toMatch(/^c.* 1,\s+3 .*\/dev\/mynull\nwrote\n$/);
    const u = await run(['sh', '-c', 'ulimit -n; ulimit -Hn'], { ulimits: [{ name: 'nofile', soft: 1024, hard: 2048 }] });
    expect(u.out).toBe('1024\n2048\n');
    const i = await run(['sh', '-c', 'tr "\\0" " " < /proc/1/cmdline'], { init: true });
    expect(i.out.trim()).toBe('/sbin/docker-init -- sh -c tr "\\0" " " < /proc/1/cmdline');
    expect(existsSync(join(rootfs, 'sbin/docker-init'))).toBe(false); // the mount point stub is gone
    const s = await run(['df', '-k', '/dev/shm'], { shmSize: 8 * 1024 * 1024 });
    expect(s.out).toMatch(/\s8192\s/);
  });
});
