import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';

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

/**
 * `name` as the absolute path a spawn would find on PATH, or `name` itself when it has a slash or
 * is not found in an absolute PATH entry (the spawn then looks for it itself, and reports it). Resolved once by callers that start it often: each
 * spawn of a bare name tries every PATH entry before the one that has it.
 */
export function onPath(name: string, path = process.env.PATH ?? ''): string {
  if (name.includes('/')) return name;
  for (const dir of path.split(':')) {
    // (a relative entry means another directory to a spawn with a cwd of its own)
    if (!isAbsolute(dir)) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return name;
}
