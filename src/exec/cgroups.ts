import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostRlimits } from './spec.js';

const CGROUP_ROOT = '/sys/fs/cgroup';

export interface CgroupInfo {
  version: 1 | 2;
  /** v1 hierarchies (`/sys/fs/cgroup/memory`, …, and hybrid's `unified`, which runc also uses); for v2 the root. */
  roots: string[];
  swapAccounting: boolean;
}

let cached: CgroupInfo | undefined;

/**
 * v2 when /sys/fs/cgroup itself is cgroup2 (has cgroup.controllers); otherwise v1, including the
 * hybrid layout where an empty cgroup2 sits at /sys/fs/cgroup/unified.
 */
export function cgroupInfo(): CgroupInfo {
  if (cached) return cached;
  if (existsSync(join(CGROUP_ROOT, 'cgroup.controllers'))) {
    cached = { version: 2, roots: [CGROUP_ROOT], swapAccounting: existsSync(join(CGROUP_ROOT, 'init.scope', 'memory.swap.max')) };
  } else {
    let names: string[] = [];
    try {
      names = readdirSync(CGROUP_ROOT).filter((n) => existsSync(join(CGROUP_ROOT, n, 'cgroup.procs')));
    } catch {
      // no cgroupfs at all: runc will say so
    }
    cached = {
      version: 1,
      roots: names.map((n) => join(CGROUP_ROOT, n)),
      swapAccounting: existsSync(join(CGROUP_ROOT, 'memory', 'memory.memsw.limit_in_bytes')),
    };
  }
  return cached;
}

/** Host-relative cgroup path (`/tbuild/<id>`) → its directories in every hierarchy. */
export function cgroupDirs(path: string): string[] {
  return cgroupInfo().roots.map((r) => join(r, path));
}

/** The memory directory for `path` (v1 memory controller, or the v2 unified dir). */
function memoryDir(path: string): string {
  const info = cgroupInfo();
  return info.version === 2 ? join(CGROUP_ROOT, path) : join(CGROUP_ROOT, 'memory', path);
}

/**
 * Make the parent cgroup that lets an OOM kill be detected after runc has removed the container's
 * own cgroup (it does so before `runc run` returns). v2 counts `oom_kill` hierarchically in
 * memory.events, so the parent needs nothing. v1 counts it only in the victim's memcg, so the parent
 * gets a limit one page below the container's: it is always the one to hit, and its failcnt survives.
 */
export async function prepareOomParent(path: string, limit: number): Promise<void> {
  if (cgroupInfo().version === 2) return;
  const dir = join(CGROUP_ROOT, 'memory', path);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'memory.limit_in_bytes'), String(Math.max(limit - 4096, 4096)));
}

/** Whether the container under the parent `path` was killed for memory (see prepareOomParent). */
export async function wasOomKilled(path: string, exitCode: number): Promise<boolean> {
  const v2 = cgroupInfo().version === 2;
  const file = join(memoryDir(path), v2 ? 'memory.events' : 'memory.failcnt');
  const text = await readFile(file, 'utf8').catch(() => '');
  if (v2) return Number(/^oom_kill (\d+)$/m.exec(text)?.[1] ?? 0) > 0;
  return exitCode === 137 && Number(text.trim() || 0) > 0;
}

/** Remove `path` (and the listed child paths first) from every hierarchy; missing dirs are fine. */
export async function removeCgroup(path: string, children: string[] = []): Promise<void> {
  const targets = [...children.map((c) => join(path, c)), path];
  await Promise.all(
    cgroupInfo().roots.map(async (root) => {
      for (const t of targets) {
        await rmdirRetry(join(root, t));
      }
    }),
  );
}

async function rmdirRetry(dir: string): Promise<void> {
  // A cgroup dir can be briefly busy right after its last task exits.
  for (let i = 0; i < 20; i++) {
    try {
      await rmdir(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY') throw err;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

const LIMIT_NAMES: Record<string, string> = {
  'Max cpu time': 'RLIMIT_CPU',
  'Max file size': 'RLIMIT_FSIZE',
  'Max data size': 'RLIMIT_DATA',
  'Max stack size': 'RLIMIT_STACK',
  'Max core file size': 'RLIMIT_CORE',
  'Max resident set': 'RLIMIT_RSS',
  'Max processes': 'RLIMIT_NPROC',
  'Max open files': 'RLIMIT_NOFILE',
  'Max locked memory': 'RLIMIT_MEMLOCK',
  'Max address space': 'RLIMIT_AS',
  'Max file locks': 'RLIMIT_LOCKS',
  'Max pending signals': 'RLIMIT_SIGPENDING',
  'Max msgqueue size': 'RLIMIT_MSGQUEUE',
  'Max nice priority': 'RLIMIT_NICE',
  'Max realtime priority': 'RLIMIT_RTPRIO',
  'Max realtime timeout': 'RLIMIT_RTTIME',
};

/** Parse /proc/<pid>/limits; `unlimited` becomes the largest uint64-safe number JSON can carry. */
export function parseLimits(text: string): HostRlimits {
  const out: HostRlimits = {};
  for (const line of text.split('\n').slice(1)) {
    const m = /^(.+?)\s{2,}(\S+)\s+(\S+)/.exec(line);
    if (!m) continue;
    const type = LIMIT_NAMES[m[1]!.trim()];
    if (!type) continue;
    const num = (s: string) => (s === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(s));
    out[type] = { soft: num(m[2]!), hard: num(m[3]!) };
  }
  return out;
}

export function hostRlimits(): HostRlimits {
  try {
    return parseLimits(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    return {};
  }
}

/** Docker's floor for a memory limit. */
export const MIN_MEMORY = 6 * 1024 * 1024;

/**
 * Docker's checks of a memory limit and a memory+swap limit (0 or undefined: unset; swap -1:
 * unlimited), with its messages. A swap limit this host cannot set (no swap accounting) is
 * refused, not dropped with a warning as dockerd drops it.
 */
export function checkMemoryLimits(memory: number | undefined, memorySwap: number | undefined, swapFlag = 'MemorySwap'): string | undefined {
  if (memory && memory < MIN_MEMORY) return 'Minimum memory limit allowed is 6MB';
  if (memorySwap !== undefined && memorySwap > 0) {
    if (!memory) return 'You should always set the Memory limit when using Memoryswap limit, see usage';
    if (memorySwap < memory) return 'Minimum memoryswap limit should be larger than memory limit, see usage';
  }
  if (memorySwap && !cgroupInfo().swapAccounting) return `${swapFlag} cannot be set: this host has no swap accounting (cgroup memory.memsw / memory.swap.max)`;
  return undefined;
}
