import { readFileSync } from 'node:fs';

/**
 * Whether process `pid` exists (EPERM: it does, owned by someone else). Leftovers on disk are
 * tagged with the pid that made them, so a sweep can tell a crashed writer's from a live one's.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Start time (clock ticks since boot) of `pid`, or 'gone'. Paired with the pid in records, it
 * keeps a reused pid from passing for the process that wrote them.
 */
export function processStart(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return 'gone';
  }
}
