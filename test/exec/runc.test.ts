import { describe, test, expect, beforeEach, afterEach } from 'vitest';
import { PassThrough, Writable } from 'node:stream';
import { readdir, writeFile, stat, mkdir, appendFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { networkInterfaces } from 'node:os';
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { tempDir, isRoot } from '../support/tmp.js';
import { busyboxRootfs, runcContainers, processesUnder, cgroupsLeft } from './support/rootfs.js';
import { createRuncExecutor } from '../../src/exec/runc.js';
import type { RunSpec, ProcessSpec, ExitStatus } from '../../src/exec/types.js';
import { isTbuildError } from '../../src/errors.js';

const execFileP = promisify(execFile);

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

describe.runIf(isRoot)('runc executor', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let rootfs: string;
  let ids: string[];
  let seq = 0;

  beforeEach(async () => {
    tmp = await tempDir('tbx-');
    rootfs = await busyboxRootfs(join(tmp.path, 'rootfs'));
    ids = [];
  });

  afterEach(async () => {
    // Release whatever a failed test left before asserting, so one failure does not leak.
    const left = await runcContainers(join(tmp.path, 'runc'));
    for (const id of left) {
      await execFileP('runc', ['--root', join(tmp.path, 'runc'), 'delete', '--force', id]).catch(() => {});
    }
    expect(left).toEqual([]);
    expect(await processesUnder(rootfs)).toEqual([]);
    for (const id of ids) expect(await cgroupsLeft(id)).toEqual([]);
    expect(existsSync(join(tmp.path, 'exec')) ? (await readdir(join(tmp.path, 'exec'))).filter((n) => !n.startsWith('.')) : []).toEqual([]);
    await tmp.cleanup();
  });

  function newId(): string {
    const id = `t${process.pid}-${++seq}`;
    ids.push(id);
    return id;
  }

  async function run(
    proc: Partial<ProcessSpec> & { args: string[] },
    extra: Partial<RunSpec> = {},
    opts: { stdin?: string; signal?: AbortSignal } = {},
  ): Promise<{ status: ExitStatus; stdout: string; stderr: string }> {
    const ex = createRuncExecutor({ root: tmp.path, runtime: 'runc' });
    const out = sink();
    const err = sink();
    const spec: RunSpec = {
      rootfs,
      process: { env: [], cwd: '/', user: '', ...proc },
      mounts: [],
      network: 'none',
      ...extra,
    };
    let stdin: PassThrough | undefined;
    if (opts.stdin !== undefined) {
      stdin = new PassThrough();
      stdin.end(opts.stdin);
    }
    const status = await ex.run(newId(), spec, { stdout: out.stream, stderr: err.stream, stdin }, opts.signal);
    return { status, stdout: out.text(), stderr: err.text() };
  }

  test('exit codes propagate: 0 and 3', async () => {
    expect((await run({ args: ['true'] })).status).toEqual({ exitCode: 0 });
    expect((await run({ args: ['sh', '-c', 'exit 3'] })).status).toEqual({ exitCode: 3 });
  });

  test('a signal death reports 128+n and the signal name; pid 1 ignores unhandled signals from inside', async () => {
    const ex = createRuncExecutor({ root: tmp.path, runtime: 'runc' });
    const c = await ex.start(
      newId(),
      { rootfs, process: { args: ['sleep', '100'], env: [], cwd: '/', user: '' }, mounts: [], network: 'none' },
      {},
    );
    await c.kill('SIGKILL');
    expect(await c.wait()).toEqual({ exitCode: 137, signal: 'SIGKILL' });
    const t = await run({ args: ['sh', '-c', 'kill -TERM $$; echo survived'] });
    expect(t).toMatchObject({ status: { exitCode: 0 }, stdout: 'survived\n' });
  });

  test('stdout, stderr and stdin are streamed', async () => {
    const r = await run({ args: ['sh', '-c', 'cat; echo err >&2'] }, {}, { stdin: 'hello in\n' });
    expect(r.stdout).toBe('hello in\n');
    expect(r.stderr).toBe('err\n');
  });

  test('env gets a default PATH and HOME; given values win', async () => {
    const r = await run({ args: ['env'], env: ['FOO=bar baz', 'HOME=/h'] });
    const env = r.stdout.trim().split('\n').sort();
    expect(env).toContain('FOO=bar baz');
    expect(env).toContain('HOME=/h');
    expect(env).toContain('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    const p = await run({ args: ['sh', '-c', 'echo $PATH'], env: ['PATH=/bin'] });
    expect(p.stdout).toBe('/bin\n');
  });

  test('user, group and supplementary groups come from the rootfs', async () => {
    await appendFile(join(rootfs, 'etc/passwd'), 'app:x:1000:1000:app:/home/app:/bin/sh\n');
    await appendFile(join(rootfs, 'etc/group'), 'app:x:1000:\nextra:x:2000:app\nother:x:3000:\n');
    const named = await run({ args: ['sh', '-c', 'id -u; id -g; id -G; echo $HOME'], user: 'app' });
    expect(named.stdout).toBe('1000\n1000\n1000 2000\n/home/app\n');
    const explicit = await run({ args: ['sh', '-c', 'id -u; id -g; id -G'], user: 'app:other' });
    expect(explicit.stdout).toBe('1000\n3000\n3000\n');
    const numeric = await run({ args: ['sh', '-c', 'id -u; id -g; echo $HOME'], user: '4242:4343' });
    expect(numeric.stdout).toBe('4242\n4343\n/\n');
    await expect(run({ args: ['true'], user: 'nobody2' })).rejects.toThrow(
      'unable to find user nobody2: no matching entries in passwd file',
    );
  });

  test('the working directory is created when missing (root-owned, as Docker does) and stays', async () => {
    const r = await run({ args: ['sh', '-c', 'pwd; stat -c "%u %g %a" .'], cwd: '/work/dir', user: '1000' });
    expect(r.stdout).toBe('/work/dir\n0 0 755\n');
    expect((await stat(join(rootfs, 'work/dir'))).isDirectory()).toBe(true);
    const w = await run({ args: ['sh', '-c', 'echo x > f'], cwd: '/made' });
    expect(w.status.exitCode).toBe(0);
    expect((await stat(join(rootfs, 'made/f'))).size).toBe(2);
  });

  test('mount stubs for /etc/hosts and friends do not leak into the rootfs', async () => {
    const r = await run({ args: ['sh', '-c', 'cat /etc/hostname; grep -c localhost /etc/hosts'] }, { hostname: 'box1' });
    expect(r.stdout).toBe('box1\n2\n');
    expect(existsSync(join(rootfs, 'etc/hosts'))).toBe(false);
    expect(existsSync(join(rootfs, 'etc/hostname'))).toBe(false);
    expect(existsSync(join(rootfs, 'etc/resolv.conf'))).toBe(false);
  });

  test('read-only rootfs and extra hosts', async () => {
    const r = await run(
      { args: ['sh', '-c', 'touch /x 2>&1; grep registry /etc/hosts'] },
      { readonlyRootfs: true, extraHosts: ['registry.local:10.0.0.5'] },
    );
    expect(r.stdout).toMatch(/Read-only file system/);
    expect(r.stdout).toMatch(/^10\.0\.0\.5\tregistry\.local$/m);
    expect(existsSync(join(rootfs, 'x'))).toBe(false);
  });

  test('network none has only lo, and it is up; host sees host interfaces', async () => {
    const none = await run({ args: ['sh', '-c', 'ls /sys/class/net; ip -o link show lo'] });
    const [list, lo] = none.stdout.split('\n').reduce<[string[], string]>(
      (acc, l) => (l.includes(': lo:') ? [acc[0], l] : l ? [[...acc[0], l], acc[1]] : acc),
      [[], ''],
    );
    expect(list).toEqual(['lo']);
    expect(lo).toMatch(/<[^>]*\bUP\b[^>]*>/);
    const host = await run({ args: ['ls', '/sys/class/net'] }, { network: 'host' });
    const hostIfs = Object.keys(networkInterfaces()).sort();
    const seen = host.stdout.trim().split(/\s+/).sort();
    for (const i of hostIfs) expect(seen).toContain(i);
    expect(seen.length).toBeGreaterThan(1);
  });

  test('capabilities are Docker’s default set; masked and read-only paths hold', async () => {
    const r = await run({ args: ['sh', '-c', 'grep -E "^Cap(Eff|Bnd)" /proc/self/status'] });
    // CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP
    const bits = [0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31];
    const want = bits.reduce((a, b) => a | (1n << BigInt(b)), 0n).toString(16).padStart(16, '0');
    expect(r.stdout).toBe(`CapEff:\t${want}\nCapBnd:\t${want}\n`);
    const nonRoot = await run({ args: ['sh', '-c', 'grep "^CapEff" /proc/self/status'], user: '1000' });
    expect(nonRoot.stdout).toBe('CapEff:\t0000000000000000\n');
    const masked = await run({ args: ['sh', '-c', 'cat /proc/kcore /proc/keys /proc/timer_list | wc -c; echo 1 > /proc/sys/kernel/domainname'] });
    expect(masked.stdout.split('\n')[0]!.trim()).toBe('0');
    expect(masked.status.exitCode).not.toBe(0);
    expect(masked.stderr).toMatch(/Read-only file system/);
  });

  test('rlimits are clamped to the host hard limit', async () => {
    const r = await run({ args: ['sh', '-c', 'ulimit -n; ulimit -Hn'] });
    const [soft, hard] = r.stdout.trim().split('\n').map(Number);
    expect(r.status.exitCode).toBe(0);
    expect(hard).toBeLessThanOrEqual(20000);
    expect(soft).toBe(hard);
  });

  test('a memory limit kills an over-allocating process and reports OOMKilled', async () => {
    const r = await run(
      { args: ['sh', '-c', 'x=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa; while true; do x="$x$x"; done'] },
      { resources: { memory: 32 * 1024 * 1024 } },
    );
    expect(r.status.exitCode).toBe(137);
    expect(r.status.oomKilled).toBe(true);
    const ok = await run({ args: ['true'] }, { resources: { memory: 32 * 1024 * 1024 } });
    expect(ok.status).toEqual({ exitCode: 0 });
  });

  test('a pids limit bounds a fork bomb', async () => {
    const r = await run(
      // builtins only after the bomb: with the pids cgroup full, nothing else could fork
      { args: ['sh', '-c', '(for i in $(seq 50); do sleep 2 & done 2>/dev/null) 2>/dev/null; read n < /sys/fs/cgroup/pids/pids.current || read n < /sys/fs/cgroup/pids.current; echo $n'] },
      { resources: { pidsLimit: 10 } },
    );
    expect(r.status.exitCode).toBe(0);
    const procs = Number(r.stdout.trim());
    expect(procs).toBeGreaterThan(2);
    expect(procs).toBeLessThanOrEqual(10);
  });

  test('cpu and memory settings reach the cgroup', async () => {
    const r = await run(
      { args: ['sh', '-c', 'cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/cpu.max'] },
      { resources: { cpuQuota: 50_000, cpuPeriod: 100_000, cpuShares: 512, memory: 64 * 1024 * 1024 } },
    );
    expect(r.stdout).toMatch(/^(50000\n512\n67108864\n|50000 100000\n)$/);
  });

  test('bind mounts, read-only and read-write', async () => {
    const host = join(tmp.path, 'share');
    await mkdir(host);
    await writeFile(join(host, 'in.txt'), 'from host\n');
    const r = await run(
      { args: ['sh', '-c', 'cat /data/in.txt; echo out > /data/out.txt; echo rw > /rw/x; echo $?'] },
      {
        mounts: [
          { destination: '/data', type: 'bind', source: host, options: ['rbind', 'ro'] },
          { destination: '/rw', type: 'bind', source: host, options: ['rbind'] },
        ],
      },
    );
    expect(r.stdout).toBe('from host\n0\n');
    expect(r.stderr).toMatch(/Read-only file system/);
    expect(existsSync(join(host, 'x'))).toBe(true);
    expect(existsSync(join(rootfs, 'data'))).toBe(false);
  });

  test('tty: the process gets a pty, output comes back with CRLF', async () => {
    const r = await run({ args: ['sh', '-c', 'tty; exit 2'], tty: true });
    expect(r.status.exitCode).toBe(2);
    expect(r.stdout).toMatch(/^\/dev\/pts\/\d+\r\n$/);
  });

  test('a missing command exits 127', async () => {
    const r = await run({ args: ['/no/such/binary'] });
    expect(r.status.exitCode).toBe(127);
  });

  test('cancellation kills `sleep 100` fast and leaves nothing behind', async () => {
    const ac = new AbortController();
    const t0 = Date.now();
    setTimeout(() => ac.abort(), 300);
    const err = await run({ args: ['sleep', '100'] }, {}, { signal: ac.signal }).catch((e: unknown) => e);
    expect(isTbuildError(err, 'TB_EXEC_CANCELLED')).toBe(true);
    expect(Date.now() - t0).toBeLessThan(20_000);
  });

  test('a missing runtime binary is TB_RUNTIME_MISSING with an install hint', async () => {
    const ex = createRuncExecutor({ root: tmp.path, runtime: 'no-such-runc' });
    const err = await ex
      .run(newId(), { rootfs, process: { args: ['true'], env: [], cwd: '/', user: '' }, mounts: [], network: 'none' }, {})
      .catch((e: unknown) => e);
    expect(isTbuildError(err, 'TB_RUNTIME_MISSING')).toBe(true);
    expect((err as Error).message).toMatch(/apt-get install runc/);
  });

  test('start() gives a handle: pid, exec, top, pause/resume, kill', async () => {
    const ex = createRuncExecutor({ root: tmp.path, runtime: 'runc' });
    const id = newId();
    const c = await ex.start(
      id,
      { rootfs, process: { args: ['sleep', '100'], env: ['A=1'], cwd: '/', user: '' }, mounts: [], network: 'none' },
      {},
    );
    expect(c.pid).toBeGreaterThan(1);
    const out = sink();
    const st = await c.exec({ args: ['sh', '-c', 'echo $A; exit 4'], env: ['A=2'], cwd: '/', user: '' }, { stdout: out.stream });
    expect(st.exitCode).toBe(4);
    expect(out.text()).toBe('2\n');
    const ttyOut = sink();
    expect((await c.exec({ args: ['tty'], env: [], cwd: '/', user: '', tty: true }, { stdout: ttyOut.stream })).exitCode).toBe(0);
    expect(ttyOut.text()).toMatch(/^\/dev\/pts\/\d+\r\n$/);
    const top = await c.top();
    expect(top.titles).toContain('PID');
    expect(top.processes.some((p) => p[p.length - 1] === 'sleep 100')).toBe(true);
    await c.pause();
    await c.resume();
    await c.kill('SIGKILL');
    expect(await c.wait()).toEqual({ exitCode: 137, signal: 'SIGKILL' });
  });

  test('sweep releases containers whose owning process died', async () => {
    const id = newId();
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./support/orphan.ts', import.meta.url)), tmp.path, rootfs, id], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => d.toString().includes('started') && resolve()));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('close', r));
    expect(await runcContainers(join(tmp.path, 'runc'))).toEqual([id]);
    const ex = createRuncExecutor({ root: tmp.path, runtime: 'runc' });
    expect(await ex.sweep()).toEqual([id]);
    for (let i = 0; i < 50 && (await processesUnder(rootfs)).length; i++) await new Promise((r) => setTimeout(r, 50));
  });
});
