import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { TbuildError } from '../errors.js';
import { tryLockViaHelper } from './lock-helper.js';

/**
 * A lock shared by every process on the machine: flock(2) on `path`. Node has no flock of its
 * own. An uncontended lock is taken by this process's lock helper (`lock-helper.ts`: one small
 * process, no fork of ours per lock). One that must be waited for is taken by util-linux's
 * `flock` on a descriptor we open and hand it (`flock -x 3`): the lock belongs to our open file,
 * so it is ours once `flock` exits. Either way it goes when released — or when this process dies,
 * even by SIGKILL. No sweep or timeout is ever needed.
 *
 * Within one process two holders of the same path are two open files, so they exclude each other
 * like two processes do: never take a lock you already hold.
 */
export interface FileLock {
  /** Other processes may see the lock free a moment later; this process's next lock is ordered after it. */
  release(): void;
}

export async function lockFile(path: string, opts: { shared?: boolean } = {}): Promise<FileLock> {
  return (await takeLock(path, opts.shared ?? false, true))!;
}

/** The lock if nobody holds it (or, shared, nobody holds it exclusively) right now; else undefined. */
export function tryLockFile(path: string, opts: { shared?: boolean } = {}): Promise<FileLock | undefined> {
  return takeLock(path, opts.shared ?? false, false);
}

// flock -n exits 1 when the lock is held elsewhere
const HELD = 1;

async function takeLock(path: string, shared: boolean, wait: boolean): Promise<FileLock | undefined> {
  await mkdir(dirname(path), { recursive: true });
  const quick = await tryLockViaHelper(path, shared);
  if (quick.kind === 'held') return { release: quick.release };
  if (quick.kind === 'busy' && !wait) return undefined;
  const fd = openSync(path, 'a', 0o600);
  return new Promise((resolve, reject) => {
    const fail = (message: string, cause?: unknown) => {
      closeSync(fd);
      reject(new TbuildError('TB_LOCK_FAILED', `cannot lock ${path}: ${message}`, cause ? { cause } : {}));
    };
    const child = spawn('flock', [shared ? '-s' : '-x', ...(wait ? [] : ['-n']), '3'], { stdio: ['ignore', 'ignore', 'pipe', fd] });
    const err: Buffer[] = [];
    child.stderr!.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => fail(`${e.message} (util-linux's flock is needed)`, e));
    child.on('exit', (code) => {
      if (!wait && code === HELD) {
        closeSync(fd);
        return resolve(undefined);
      }
      if (code !== 0) return fail(`flock exited ${code}: ${Buffer.concat(err).toString().trim()}`);
      let released = false;
      resolve({
        release: () => {
          if (released) return;
          released = true;
          closeSync(fd);
        },
      });
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
