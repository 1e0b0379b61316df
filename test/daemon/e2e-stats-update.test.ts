import { describe, expect, test } from 'vitest';
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isRoot } from '../support/tmp.js';
import { hasDocker } from './support/docker.js';
import { busyboxDaemon } from './support/busybox-daemon.js';
import { request } from './support/raw.js';

/** The container's cgroup directory for `controller`, from its init process (cgroup v1 or v2). */
async function cgroupDir(pid: number, controller: string): Promise<string> {
  const lines = (await readFile(`/proc/${pid}/cgroup`, 'utf8')).trim().split('\n');
  const v2 = lines.length === 1 && lines[0]!.startsWith('0::');
  if (v2) return join('/sys/fs/cgroup', lines[0]!.slice(3));
  const line = lines.find((l) => l.split(':')[1]!.split(',').includes(controller))!;
  const mount = (await import('node:fs')).readdirSync('/sys/fs/cgroup').find((d) => d.split(',').includes(controller))!;
  return join('/sys/fs/cgroup', mount, line.split(':')[2]!);
}

const isV2 = () => (import('node:fs')).then((fs) => fs.existsSync('/sys/fs/cgroup/cgroup.controllers'));

/** Sizes as the Docker CLI prints them (binary units for memory). */
function parseSize(s: string): number {
  const m = /^([\d.]+)\s*([KMGT]?i?B)$/.exec(s.trim());
  if (!m) throw new Error(`not a size: ${s}`);
  const units: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, kB: 1000, KB: 1000, MB: 1e6, GB: 1e9 };
  return Number(m[1]) * units[m[2]!]!;
}

describe.runIf(hasDocker && isRoot)('docker stats and docker update against tbuild daemon', () => {
  const d = busyboxDaemon('tbs-');


  test('stats --no-stream: memory limit, pids and CPU agree with the cgroup', async () => {
    expect((await d.docker(['run', '-d', '--name', 'busy', '-m', '64m', '--pids-limit', '20', 'busybox:local', 'sh', '-c', 'sleep 1000 & sleep 1000 & while :; do :; done'])).code).toBe(0);
    expect((await d.docker(['run', '-d', '--name', 'idle', 'busybox:local', 'sleep', '1000'])).code).toBe(0);
    const pid = Number((await d.docker(['inspect', '-f', '{{.State.Pid}}', 'busy'])).stdout);
    await new Promise((r) => setTimeout(r, 500));
    const out = await d.docker(['stats', '--no-stream', '--format', '{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.PIDs}}|{{.NetIO}}']);
    expect(out.code).toBe(0);
    const rows = Object.fromEntries(out.stdout.trim().split('\n').map((l) => [l.split('|')[0], l.split('|')]));
    const busy = rows.busy!;
    expect(Number(busy[1]!.replace('%', ''))).toBeGreaterThan(20); // a busy loop on one CPU
    expect(Number(rows.idle![1]!.replace('%', ''))).toBeLessThan(20);
    const [used, limit] = busy[2]!.split(' / ');
    expect(parseSize(limit!)).toBe(64 * 1024 * 1024);
    expect(parseSize(used!)).toBeGreaterThan(0);
    const pidsDir = await cgroupDir(pid, 'pids');
    expect(Number(busy[3])).toBe(Number((await readFile(join(pidsDir, 'pids.current'), 'utf8')).trim()));
    expect(Number(busy[3])).toBe(3);
    // the idle container is on the bridge: its eth0 counts bytes
    expect(rows.idle![4]).toMatch(/^[\d.]+k?B \/ [\d.]+k?B$/);
  }, 60_000);

  test('the stats API: Docker\'s JSON, precpu for one-shot=false, a stream that ticks, zeroes for a stopped container', async () => {
    const id = (await d.docker(['inspect', '-f', '{{.Id}}', 'busy'])).stdout.trim();
    const r = await request(d.socket, 'GET', `/containers/${id}/stats?stream=false`);
    expect(r.status).toBe(200);
    const s = r.json<Record<string, any>>();
    expect(s.name).toBe('/busy');
    expect(s.id).toBe(id);
    expect(s.cpu_stats.cpu_usage.total_usage).toBeGreaterThan(s.precpu_stats.cpu_usage.total_usage);
    expect(s.cpu_stats.system_cpu_usage).toBeGreaterThan(s.precpu_stats.system_cpu_usage);
    expect(s.memory_stats.limit).toBe(64 * 1024 * 1024);
    expect(s.pids_stats).toMatchObject({ current: 3, limit: 20 });
    expect(Array.isArray(s.blkio_stats.io_service_bytes_recursive)).toBe(true);
    // streaming: two samples a second apart, the second's precpu is the first
    const lines = await new Promise<string[]>((resolve, reject) => {
      const got: string[] = [];
      let buf = '';
      const req = http.get({ socketPath: d.socket, path: `/containers/${id}/stats`, headers: { Host: 'docker' } }, (res) => {
        res.on('data', (c: Buffer) => {
          buf += c.toString();
          const parts = buf.split('\n');
          buf = parts.pop()!;
          got.push(...parts.filter(Boolean));
          if (got.length >= 2) {
            req.destroy();
            resolve(got);
          }
        });
      });
      req.on('error', (e) => (got.length >= 2 ? undefined : reject(e)));
    });
    const [a, b] = lines.map((l) => JSON.parse(l) as Record<string, any>);
    expect(b!.precpu_stats.cpu_usage.total_usage).toBe(a!.cpu_stats.cpu_usage.total_usage);
    expect(Date.parse(b!.read) - Date.parse(a!.read)).toBeGreaterThanOrEqual(900);
    expect((await d.docker(['create', '--name', 'stopped', 'busybox:local', 'true'])).code).toBe(0);
    const z = (await request(d.socket, 'GET', '/containers/stopped/stats?stream=false')).json<Record<string, any>>();
    expect(z.read).toBe('0001-01-01T00:00:00Z');
    expect(z.name).toBe('/stopped');
  }, 60_000);

  test('update: memory, CPUs and pids limits reach the running container\'s cgroup; restart policy; refusals', async () => {
    const pid = Number((await d.docker(['inspect', '-f', '{{.State.Pid}}', 'busy'])).stdout);
    const u = await d.docker(['update', '--memory', '128m', '--memory-swap', '256m', '--cpus', '0.5', '--pids-limit', '50', 'busy']);
    expect(u).toMatchObject({ code: 0, stdout: 'busy\n' });
    const mem = await cgroupDir(pid, 'memory');
    const v2 = await isV2();
    expect(Number((await readFile(join(mem, v2 ? 'memory.max' : 'memory.limit_in_bytes'), 'utf8')).trim())).toBe(128 * 1024 * 1024);
    const pids = await cgroupDir(pid, 'pids');
    expect((await readFile(join(pids, 'pids.max'), 'utf8')).trim()).toBe('50');
    const cpu = await cgroupDir(pid, 'cpu');
    const quota = v2 ? (await readFile(join(cpu, 'cpu.max'), 'utf8')).trim() : (await readFile(join(cpu, 'cpu.cfs_quota_us'), 'utf8')).trim();
    expect(quota).toMatch(/^50000( 100000)?$/);
    const hc = await d.docker(['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}', 'busy']);
    expect(hc.stdout.trim()).toBe(`${128 * 1024 * 1024} 50`);
    // the swap limit is kept (inspect) and set (memory+swap in the cgroup)
    expect((await d.docker(['inspect', '-f', '{{.HostConfig.MemorySwap}}', 'busy'])).stdout.trim()).toBe(String(256 * 1024 * 1024));
    if (!v2) expect(Number((await readFile(join(mem, 'memory.memsw.limit_in_bytes'), 'utf8')).trim())).toBe(256 * 1024 * 1024);
    // the stats limit follows
    const s = (await request(d.socket, 'GET', '/containers/busy/stats?stream=false&one-shot=true')).json<Record<string, any>>();
    expect(s.memory_stats.limit).toBe(128 * 1024 * 1024);

    expect((await d.docker(['update', '--restart', 'on-failure:3', 'idle'])).code).toBe(0);
    expect((await d.docker(['inspect', '-f', '{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}', 'idle'])).stdout.trim()).toBe('on-failure:3');

    const small = await d.docker(['update', '--memory', '1m', 'idle']);
    expect(small.code).not.toBe(0);
    expect(small.stderr).toContain('Minimum memory limit allowed is 6MB');
    const cpuset = await d.docker(['update', '--cpuset-cpus', '0', 'idle']);
    expect(cpuset.code).not.toBe(0);
    expect(cpuset.stderr).toContain('CpusetCpus is not supported');
  }, 60_000);

  test('a restart policy set by update is what the monitor follows at the next exit', async () => {
    expect((await d.docker(['run', '-d', '--name', 'flaky', 'busybox:local', 'sh', '-c', 'sleep 1; exit 3'])).code).toBe(0);
    expect((await d.docker(['update', '--restart', 'on-failure:2', 'flaky'])).code).toBe(0);
    for (let i = 0; i < 100; i++) {
      const st = (await d.docker(['inspect', '-f', '{{.State.Status}} {{.RestartCount}}', 'flaky'])).stdout.trim();
      if (st === 'exited 2') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect((await d.docker(['inspect', '-f', '{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}', 'flaky'])).stdout.trim()).toBe('exited 2 3');
  }, 60_000);
});
