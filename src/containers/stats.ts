import { readFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { basename, join } from 'node:path';
import { cgroupInfo } from '../exec/cgroups.js';
import type { BlkioEntry, NetworkStats, StatsSample } from './types.js';

/**
 * `docker stats`: one sample of a running container's cgroup counters and network devices, in the
 * JSON shape of Docker's stats API (the Docker CLI and dockerode compute CPU %, memory use without
 * cache, and I/O totals from exactly these fields). Works on cgroup v1 (each controller its own
 * hierarchy) and v2 (one unified directory).
 */

const ZERO_TIME = '0001-01-01T00:00:00Z';

/** What Docker reports for a container that is not running: zeroes and a zero time. */
export function emptySample(): StatsSample {
  return {
    read: ZERO_TIME,
    pids_stats: {},
    blkio_stats: blkio(null, null),
    num_procs: 0,
    storage_stats: {},
    cpu_stats: { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, system_cpu_usage: 0, online_cpus: 0, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } },
    memory_stats: {},
  };
}

function blkio(bytes: BlkioEntry[] | null, ops: BlkioEntry[] | null): StatsSample['blkio_stats'] {
  return {
    io_service_bytes_recursive: bytes,
    io_serviced_recursive: ops,
    io_queue_recursive: null,
    io_service_time_recursive: null,
    io_wait_time_recursive: null,
    io_merged_recursive: null,
    io_time_recursive: null,
    sectors_recursive: null,
  };
}

const text = (p: string) => readFile(p, 'utf8').catch(() => undefined);
const num = async (p: string) => {
  const t = (await text(p))?.trim();
  return t === undefined || t === '' || t === 'max' ? undefined : Number(t);
};

function keyValues(t: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (t ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

/** `/proc/<pid>/cgroup` → controller → directory (v1), or the unified directory (v2). */
async function cgroupDirsOf(pid: number): Promise<{ v2?: string; v1: Map<string, string> }> {
  const info = cgroupInfo();
  const lines = ((await text(`/proc/${pid}/cgroup`)) ?? '').split('\n').filter(Boolean);
  const v1 = new Map<string, string>();
  if (info.version === 2) {
    const unified = lines.find((l) => l.startsWith('0::'));
    return { v2: join('/sys/fs/cgroup', unified ? unified.slice(3) : ''), v1 };
  }
  for (const l of lines) {
    const [, ctrls, path] = /^\d+:([^:]*):(.*)$/.exec(l) ?? [];
    if (!ctrls || path === undefined) continue;
    for (const c of ctrls.split(',')) {
      const root = info.roots.find((r) => basename(r).split(',').includes(c));
      if (root) v1.set(c, join(root, path));
    }
  }
  return { v1 };
}

/** Host CPU time in ns, as Docker's `system_cpu_usage` (the sum of /proc/stat's first line). */
async function systemCpuNs(): Promise<number> {
  const first = ((await text('/proc/stat')) ?? '').split('\n')[0] ?? '';
  const ticks = first.split(/\s+/).slice(1, 8).reduce((a, v) => a + (Number(v) || 0), 0);
  return ticks * 10_000_000; // USER_HZ is 100 on Linux
}

/** Interfaces of the container's network namespace (seen through its pid), loopback left out. */
async function networkStats(pid: number): Promise<Record<string, NetworkStats> | undefined> {
  const t = await text(`/proc/${pid}/net/dev`);
  if (!t) return undefined;
  const out: Record<string, NetworkStats> = {};
  for (const line of t.split('\n').slice(2)) {
    const m = /^\s*([^:]+):\s*(.*)$/.exec(line);
    if (!m || m[1] === 'lo') continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    out[m[1]!] = { rx_bytes: f[0]!, rx_packets: f[1]!, rx_errors: f[2]!, rx_dropped: f[3]!, tx_bytes: f[8]!, tx_packets: f[9]!, tx_errors: f[10]!, tx_dropped: f[11]! };
  }
  return Object.keys(out).length ? out : undefined;
}

function parseBlkioV1(t: string | undefined): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of (t ?? '').split('\n')) {
    const m = /^(\d+):(\d+)\s+(\S+)\s+(\d+)$/.exec(line.trim());
    if (m) out.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3]!, value: Number(m[4]) });
  }
  return out;
}

function parseIoStatV2(t: string | undefined): { bytes: BlkioEntry[]; ops: BlkioEntry[] } {
  const bytes: BlkioEntry[] = [];
  const ops: BlkioEntry[] = [];
  for (const line of (t ?? '').split('\n')) {
    const [dev, ...kv] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(dev ?? '');
    if (!m) continue;
    const v = Object.fromEntries(kv.map((x) => x.split('=')).map(([k, n]) => [k, Number(n)]));
    const at = { major: Number(m[1]), minor: Number(m[2]) };
    bytes.push({ ...at, op: 'read', value: v.rbytes ?? 0 }, { ...at, op: 'write', value: v.wbytes ?? 0 });
    ops.push({ ...at, op: 'read', value: v.rios ?? 0 }, { ...at, op: 'write', value: v.wios ?? 0 });
  }
  return { bytes, ops };
}

/** Docker caps an unlimited (or larger than the host) memory limit at the host's memory. */
function memoryLimit(limit: number | undefined): number {
  const host = totalmem();
  return limit === undefined || limit > host ? host : limit;
}

/** One sample for the container whose init process is `pid`. */
export async function sampleStats(pid: number): Promise<StatsSample> {
  const dirs = await cgroupDirsOf(pid);
  const [system, networks] = await Promise.all([systemCpuNs(), networkStats(pid)]);
  const onlineCpus = cpus().length;
  const s = emptySample();
  s.read = new Date().toISOString();
  s.cpu_stats.system_cpu_usage = system;
  s.cpu_stats.online_cpus = onlineCpus;
  if (networks) s.networks = networks;
  if (dirs.v2 !== undefined) {
    const d = dirs.v2;
    const [cpu, mem, memMax, memStat, pids, pidsMax, io] = await Promise.all([
      text(join(d, 'cpu.stat')),
      num(join(d, 'memory.current')),
      num(join(d, 'memory.max')),
      text(join(d, 'memory.stat')),
      num(join(d, 'pids.current')),
      num(join(d, 'pids.max')),
      text(join(d, 'io.stat')),
    ]);
    const c = keyValues(cpu);
    s.cpu_stats.cpu_usage = { total_usage: (c.usage_usec ?? 0) * 1000, usage_in_kernelmode: (c.system_usec ?? 0) * 1000, usage_in_usermode: (c.user_usec ?? 0) * 1000 };
    s.cpu_stats.throttling_data = { periods: c.nr_periods ?? 0, throttled_periods: c.nr_throttled ?? 0, throttled_time: (c.throttled_usec ?? 0) * 1000 };
    s.memory_stats = { ...(mem !== undefined ? { usage: mem } : {}), stats: keyValues(memStat), limit: memoryLimit(memMax) };
    s.pids_stats = { ...(pids !== undefined ? { current: pids } : {}), ...(pidsMax !== undefined ? { limit: pidsMax } : {}) };
    const { bytes, ops } = parseIoStatV2(io);
    s.blkio_stats = blkio(bytes, ops);
    return s;
  }
  // a controller this process cannot see (not mounted) reads as absent
  const at = (controller: string, file: string) => {
    const dir = dirs.v1.get(controller);
    return dir === undefined ? undefined : join(dir, file);
  };
  const readText = (c: string, f: string) => (at(c, f) ? text(at(c, f)!) : undefined);
  const readNum = (c: string, f: string) => (at(c, f) ? num(at(c, f)!) : undefined);
  const [usage, percpu, cpuStat, throttle, mem, maxMem, limit, failcnt, memStat, pids, pidsMax, ioBytes, ioOps] = await Promise.all([
    readNum('cpuacct', 'cpuacct.usage'),
    readText('cpuacct', 'cpuacct.usage_percpu'),
    readText('cpuacct', 'cpuacct.stat'),
    readText('cpu', 'cpu.stat'),
    readNum('memory', 'memory.usage_in_bytes'),
    readNum('memory', 'memory.max_usage_in_bytes'),
    readNum('memory', 'memory.limit_in_bytes'),
    readNum('memory', 'memory.failcnt'),
    readText('memory', 'memory.stat'),
    readNum('pids', 'pids.current'),
    readNum('pids', 'pids.max'),
    readText('blkio', 'blkio.throttle.io_service_bytes_recursive'),
    readText('blkio', 'blkio.throttle.io_serviced_recursive'),
  ]);
  const ticks = keyValues(cpuStat);
  const t = keyValues(throttle);
  s.cpu_stats.cpu_usage = {
    total_usage: usage ?? 0,
    usage_in_kernelmode: (ticks.system ?? 0) * 10_000_000,
    usage_in_usermode: (ticks.user ?? 0) * 10_000_000,
    ...(percpu ? { percpu_usage: percpu.trim().split(/\s+/).map(Number) } : {}),
  };
  s.cpu_stats.throttling_data = { periods: t.nr_periods ?? 0, throttled_periods: t.nr_throttled ?? 0, throttled_time: t.throttled_time ?? 0 };
  s.memory_stats = {
    ...(mem !== undefined ? { usage: mem } : {}),
    ...(maxMem !== undefined ? { max_usage: maxMem } : {}),
    stats: keyValues(memStat),
    ...(failcnt !== undefined ? { failcnt } : {}),
    limit: memoryLimit(limit),
  };
  s.pids_stats = { ...(pids !== undefined ? { current: pids } : {}), ...(pidsMax !== undefined ? { limit: pidsMax } : {}) };
  s.blkio_stats = blkio(parseBlkioV1(ioBytes), parseBlkioV1(ioOps));
  return s;
}
