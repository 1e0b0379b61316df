import { execFile } from 'node:child_process';
import { readFile, readlink } from 'node:fs/promises';
import { promisify } from 'node:util';
import { TbuildError } from '../errors.js';
import type { TtySize } from './types.js';

const execFileP = promisify(execFile);

/** stty sets rows and columns one ioctl at a time: two resizes of one terminal must not interleave. Keyed by pid. */
const pending = new Map<number, Promise<unknown>>();

/**
 * Resize the terminal of a container process started with a tty. In the foreground, runc relays
 * between the container's pty and its own terminal (the `script` pty), and on SIGWINCH gives the
 * container's pty its own terminal's size. So the size is set on runc's terminal, the parent of
 * the process: the kernel signals runc, runc resizes the container's pty, the process gets its
 * SIGWINCH, and runc's view never disagrees with the container's.
 */
export function resizeTty(pid: number, size: TtySize, runtime: string): Promise<void> {
  // queued in arrival order, before any await: a later size must not be overtaken by an earlier one
  const mine = (pending.get(pid) ?? Promise.resolve()).catch(() => {}).then(() => applySize(pid, size, runtime));
  pending.set(pid, mine);
  void mine.finally(() => {
    if (pending.get(pid) === mine) pending.delete(pid);
  }).catch(() => {});
  return mine;
}

async function applySize(pid: number, size: TtySize, runtime: string): Promise<void> {
  if (!Number.isInteger(size.height) || !Number.isInteger(size.width) || size.height < 0 || size.width < 0 || size.height > 65535 || size.width > 65535) {
    throw new TbuildError('TB_INVALID_ARGUMENT', `invalid terminal size ${size.height}x${size.width}`);
  }
  if (!pid) throw new TbuildError('TB_CONTAINER_STATE', 'the process is not running');
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // the command name may hold spaces and parentheses: fields start after the last ')'
  const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  const comm = ppid ? (await readFile(`/proc/${ppid}/comm`, 'utf8').catch(() => '')).trim() : '';
  const base = runtime.split('/').pop()!.slice(0, 15);
  if (comm !== base) throw new TbuildError('TB_CONTAINER_STATE', `process ${pid} has no terminal to resize (not started with a tty by ${runtime})`);
  const tty = await readlink(`/proc/${ppid}/fd/0`).catch(() => '');
  if (!tty.startsWith('/dev/pts/')) throw new TbuildError('TB_CONTAINER_STATE', `process ${pid} has no terminal to resize`);
  await execFileP('stty', ['-F', `/proc/${ppid}/fd/0`, 'rows', String(size.height), 'cols', String(size.width)]);
}
