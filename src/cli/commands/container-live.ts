import type { Command } from 'commander';
import type { CliContext, RegisterCommand } from '../context.js';
import type { ContainerManager, ContainerRecord, ContainerUpdate, StatsSample } from '../../containers/types.js';
import { TbuildError } from '../../errors.js';
import { formatList } from '../format/index.js';
import { humanSize } from './images-format.js';
import { parseRestart, parseSize } from './container-flags.js';
import { openTerminal } from '../terminal.js';

/**
 * Commands on a live container: `attach`, `stats`, `update`. The numbers `stats` shows are
 * computed from two samples the way the Docker CLI computes them from Docker's stats API.
 */

async function manager(ctx: CliContext): Promise<ContainerManager> {
  return (await ctx.engine()).containers;
}

/** go-units BytesSize: binary units, as `docker stats` shows memory. */
function bytesSize(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number(v.toFixed(2))}${units[i]}`;
}

export interface StatsRow {
  ID: string;
  Container: string;
  Name: string;
  CPUPerc: string;
  MemUsage: string;
  MemPerc: string;
  NetIO: string;
  BlockIO: string;
  PIDs: string;
}

/** One row from a sample and the one before it (Docker CLI's formulas; `--` for a stopped container). */
export function statsRow(c: ContainerRecord, pre: StatsSample, now: StatsSample): StatsRow {
  const base = { ID: c.id.slice(0, 12), Container: c.name, Name: c.name };
  if (now.read.startsWith('0001-')) return { ...base, CPUPerc: '--', MemUsage: '-- / --', MemPerc: '--', NetIO: '--', BlockIO: '--', PIDs: '--' };
  const cpuDelta = now.cpu_stats.cpu_usage.total_usage - pre.cpu_stats.cpu_usage.total_usage;
  const sysDelta = now.cpu_stats.system_cpu_usage - pre.cpu_stats.system_cpu_usage;
  const cpus = now.cpu_stats.online_cpus || now.cpu_stats.cpu_usage.percpu_usage?.length || 1;
  const cpu = cpuDelta > 0 && sysDelta > 0 ? (cpuDelta / sysDelta) * cpus * 100 : 0;
  const m = now.memory_stats;
  const inactive = m.stats?.total_inactive_file ?? m.stats?.inactive_file ?? 0;
  const used = Math.max(0, (m.usage ?? 0) - (inactive < (m.usage ?? 0) ? inactive : 0));
  const limit = m.limit ?? 0;
  let rx = 0;
  let tx = 0;
  for (const n of Object.values(now.networks ?? {})) {
    rx += n.rx_bytes;
    tx += n.tx_bytes;
  }
  let read = 0;
  let write = 0;
  for (const e of now.blkio_stats.io_service_bytes_recursive ?? []) {
    if (e.op.toLowerCase() === 'read') read += e.value;
    if (e.op.toLowerCase() === 'write') write += e.value;
  }
  return {
    ...base,
    CPUPerc: `${cpu.toFixed(2)}%`,
    MemUsage: `${bytesSize(used)} / ${bytesSize(limit)}`,
    MemPerc: `${limit ? ((used / limit) * 100).toFixed(2) : '0.00'}%`,
    NetIO: `${humanSize(rx)} / ${humanSize(tx)}`,
    BlockIO: `${humanSize(read)} / ${humanSize(write)}`,
    PIDs: String(now.pids_stats.current ?? 0),
  };
}

const STATS_FORMAT = {
  table: 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}',
  headers: { ID: 'CONTAINER ID', Name: 'NAME', Container: 'CONTAINER', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE / LIMIT', MemPerc: 'MEM %', NetIO: 'NET I/O', BlockIO: 'BLOCK I/O', PIDs: 'PIDS' },
};

function addAttach(program: Command, ctx: CliContext): void {
  program
    .command('attach')
    .description("attach the terminal to a running container's input and output")
    .argument('<container>')
    .option('--no-stdin', 'do not attach stdin')
    .option('--detach-keys <keys>', 'key sequence that detaches (default ctrl-p,ctrl-q)')
    .action(async (ref: string, f: { stdin: boolean; detachKeys?: string }) => {
      const mgr = await manager(ctx);
      const c = await mgr.inspect(ref);
      const tty = Boolean(c.options.tty);
      const term = openTerminal({ tty, interactive: f.stdin && Boolean(c.options.openStdin), detachKeys: f.detachKeys ?? ctx.config.detachKeys });
      if (tty && term.size) await mgr.resize(c.id, term.size).catch(() => {});
      term.onResize((size) => void mgr.resize(c.id, size).catch(() => {}));
      let left = false;
      const attached = mgr.attach(c.id, {
        stdout: ctx.stdout as import('node:stream').Writable,
        stderr: ctx.stderr as import('node:stream').Writable,
        ...(term.stdin ? { stdin: term.stdin } : {}),
        detached: () => (left = true),
      });
      try {
        const r = await Promise.race([attached.then(() => 'ended' as const), term.detached.then(() => 'detached' as const)]);
        if (r === 'detached' || left) process.exit(0);
        ctx.setExitCode((await mgr.wait(c.id)).exitCode);
      } finally {
        term.restore();
        process.stdin.pause();
      }
    });
}

function addStats(program: Command, ctx: CliContext): void {
  program
    .command('stats')
    .description('display a live stream of containers\' resource usage (CPU, memory, network, block I/O, PIDs)')
    .argument('[containers...]')
    .option('-a, --all', 'all containers (default: running ones)')
    .option('--no-stream', 'disable streaming stats and only pull the first result')
    .option('--no-trunc', 'do not truncate output')
    .option('--format <format>', 'table, json, or a Go template')
    .action(async (refs: string[], f: { all?: boolean; stream: boolean; trunc: boolean; format?: string }) => {
      const mgr = await manager(ctx);
      const list = refs.length ? await Promise.all(refs.map((r) => mgr.inspect(r))) : await mgr.list({ all: Boolean(f.all) });
      const sample = async (): Promise<Map<string, StatsSample>> => {
        const out = new Map<string, StatsSample>();
        // a container removed meanwhile drops out of the report
        await Promise.all(list.map((c) => mgr.stats(c.id).then((s) => void out.set(c.id, s), () => undefined)));
        return out;
      };
      const round = async (before: Map<string, StatsSample>): Promise<Map<string, StatsSample>> => {
        let previous = before;
        let samples = await sample();
        // the first report needs a sample before it: CPU % is a rate
        if (!previous.size) {
          await new Promise((r) => setTimeout(r, 100));
          previous = samples;
          samples = await sample();
        }
        const rows = list.filter((c) => samples.get(c.id)).map((c) => ({ ...statsRow(c, previous.get(c.id) ?? samples.get(c.id)!, samples.get(c.id)!), ...(f.trunc ? {} : { ID: c.id }) }));
        const text = formatList(f.format ?? ctx.config.statsFormat, rows, STATS_FORMAT);
        // a live view redraws in place on a terminal, as Docker's does
        ctx.stdout.write(f.stream && process.stdout.isTTY ? `\x1b[2J\x1b[H${text}` : text);
        return samples;
      };
      let last = await round(new Map());
      while (f.stream) {
        await new Promise((r) => setTimeout(r, 1000));
        last = await round(last);
      }
    });
}

function addUpdate(program: Command, ctx: CliContext): void {
  program
    .command('update')
    .description("change a container's resource limits and restart policy (applied at once when it runs)")
    .argument('<container...>')
    .option('-m, --memory <size>', 'memory limit')
    .option('--memory-swap <size>', 'memory plus swap limit (-1: unlimited swap)')
    .option('--cpus <n>', 'number of CPUs')
    .option('-c, --cpu-shares <n>', 'relative CPU weight')
    .option('--cpu-quota <us>', 'CFS quota per period')
    .option('--cpu-period <us>', 'CFS period')
    .option('--pids-limit <n>', 'maximum number of processes')
    .option('--restart <policy>', 'no, always, unless-stopped, on-failure[:max-retries]')
    .action(async (refs: string[], f: { memory?: string; memorySwap?: string; cpus?: string; cpuShares?: string; cpuQuota?: string; cpuPeriod?: string; pidsLimit?: string; restart?: string }) => {
      const int = (flag: string, v: string | undefined): number | undefined => {
        if (v === undefined) return undefined;
        if (!/^-?\d+$/.test(v)) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid argument "${v}" for "${flag}" flag`);
        return Number(v);
      };
      const resources: NonNullable<ContainerUpdate['resources']> = {};
      if (f.memory) resources.memory = parseSize(f.memory);
      if (f.memorySwap) resources.memorySwap = f.memorySwap === '-1' ? -1 : parseSize(f.memorySwap);
      if (f.cpus) {
        const n = Number(f.cpus);
        if (!Number.isFinite(n) || n <= 0) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid argument "${f.cpus}" for "--cpus" flag`);
        resources.cpuPeriod = 100_000;
        resources.cpuQuota = Math.round(n * 100_000);
      }
      const shares = int('--cpu-shares', f.cpuShares);
      if (shares) resources.cpuShares = shares;
      const quota = int('--cpu-quota', f.cpuQuota);
      if (quota) resources.cpuQuota = quota;
      const period = int('--cpu-period', f.cpuPeriod);
      if (period) resources.cpuPeriod = period;
      const pids = int('--pids-limit', f.pidsLimit);
      if (pids) resources.pidsLimit = pids;
      const changes: ContainerUpdate = { ...(Object.keys(resources).length ? { resources } : {}), ...(f.restart ? { restartPolicy: parseRestart(f.restart) } : {}) };
      if (!changes.resources && !changes.restartPolicy) throw new TbuildError('TB_INVALID_ARGUMENT', 'you must provide one or more flags when using this command');
      const mgr = await manager(ctx);
      let failed = false;
      for (const ref of refs) {
        try {
          await mgr.update(ref, changes);
          ctx.stdout.write(`${ref}\n`);
        } catch (err) {
          failed = true;
          ctx.stderr.write(`Error response from daemon: ${(err as Error).message}\n`);
        }
      }
      if (failed) ctx.setExitCode(1);
    });
}

export const registerLiveContainerCommands: RegisterCommand = (program, ctx) => {
  addAttach(program, ctx);
  addStats(program, ctx);
  addUpdate(program, ctx);
};
