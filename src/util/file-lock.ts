import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { TbuildError } from '../errors.js';

/**
 * A lock shared by every process on the machine: flock(2) on `path`, held by util-linux's `flock`
 * on our behalf. Node has no flock of its own; the helper holds the lock until its stdin closes,
 * which also happens when this process dies (even by SIGKILL), so a crash never leaves a lock
 * behind and no sweep or timeout is needed.
 *
 * Within one process two holders of the same path are two open files, so they exclude each other
 * like two processes do: never take a lock you already hold.
 */
export interface FileLock {
  release(): void;
}

export async function lockFile(path: string, opts: { shared?: boolean } = {}): Promise<FileLock> {
  await mkdir(dirname(path), { recursive: true });
  return new Promise((resolve, reject) => {
    // `read` returns when our end of the pipe closes; the shell then exits and flock with it.
    const child = spawn('flock', [opts.shared ? '-s' : '-x', path, 'sh', '-c', 'echo held; read _'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin.on('error', () => {});
    const err: Buffer[] = [];
    child.stderr.on('data', (d: Buffer) => err.push(d));
    let held = false;
    child.stdout.once('data', () => {
      held = true;
      resolve({ release: () => child.stdin.end() });
    });
    child.on('error', (e) => reject(new TbuildError('TB_LOCK_FAILED', `cannot lock ${path}: ${e.message} (util-linux's flock is needed)`, { cause: e })));
    child.on('close', (code) => {
      if (!held) reject(new TbuildError('TB_LOCK_FAILED', `cannot lock ${path}: flock exited ${code}: ${Buffer.concat(err).toString().trim()}`));
    });
  });
}

/** Run `fn` holding the lock on `path`; released however `fn` ends. */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, opts: { shared?: boolean } = {}): Promise<T> {
  const lock = await lockFile(path, opts);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
