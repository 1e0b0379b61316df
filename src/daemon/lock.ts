import { open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { TbuildError } from '../errors.js';
import { processAlive } from '../util/process.js';

function alive(pid: number): boolean {
  if (!processAlive(pid)) return false;
  // A zombie (exited, not yet reaped by its parent) answers signal 0 but holds nothing.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/**
 * One daemon per state root: `<root>/daemon.lock`, created exclusively, holding our pid.
 * A lock left by a dead process is taken over; a live holder is TB_LOCKED.
 */
export async function acquireDaemonLock(root: string): Promise<{ path: string; release: () => Promise<void> }> {
  const path = join(root, 'daemon.lock');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o644);
      await fh.writeFile(`${process.pid}\n`);
      await fh.sync();
      await fh.close();
      return {
        path,
        release: async () => {
          const owner = await readFile(path, 'utf8').catch(() => '');
          if (Number.parseInt(owner, 10) === process.pid) await unlink(path).catch(() => {});
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
    if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
      throw new TbuildError('TB_LOCKED', `another tbuild daemon (pid ${pid}) is using ${root} (lock ${path})`);
    }
    // Stale (dead pid, or an unreadable half-written file): take it over.
    await unlink(path).catch(() => {});
  }
  throw new TbuildError('TB_LOCKED', `could not take the daemon lock ${path}`);
}
