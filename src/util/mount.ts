import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { TbuildError } from '../errors.js';
import type { Mount } from '../cache/types.js';

const MOUNT = '/bin/mount';
const UMOUNT = '/bin/umount';

/** The kernel copies mount options into one page; longer ones fail with a confusing EINVAL. */
export const MAX_MOUNT_OPTIONS = 4095;

function run(bin: string, args: string[], cwd?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { cwd, timeout: 60_000 }, (err, _stdout, stderr) => {
      if (err) {
        const msg = String(stderr || err.message).trim();
        reject(Object.assign(new Error(msg), { exitCode: (err as { code?: unknown }).code }));
      } else {
        resolve();
      }
    });
  });
}

/** The argv for `/bin/mount` that performs one Mount description on `target`. */
export function mountArgs(m: Mount, target: string): string[] {
  const opts = m.options.join(',');
  if (opts.length > MAX_MOUNT_OPTIONS) {
    throw new TbuildError('TB_MOUNT', `mount options are ${opts.length} bytes; the kernel takes at most ${MAX_MOUNT_OPTIONS}`);
  }
  // -n: never write /etc/mtab; -i: no /sbin/mount.<type> helpers.
  const base = ['-n', '-i'];
  if (m.type === 'bind') return [...base, '--bind', ...(opts ? ['-o', opts] : []), m.source, target];
  return [...base, '-t', m.type, ...(opts ? ['-o', opts] : []), m.source, target];
}

async function mountOne(m: Mount, target: string): Promise<void> {
  const args = mountArgs(m, target);
  try {
    await run(MOUNT, args, m.cwd);
  } catch (err) {
    throw new TbuildError('TB_MOUNT', `mount ${m.type} on ${target} failed: ${(err as Error).message}`, {
      cause: err,
      details: { mount: m, target },
    });
  }
  // util-linux applies `ro` to a bind mount with a remount; do it explicitly so older ones agree.
  if (m.type === 'bind' && m.options.includes('ro')) {
    try {
      await run(MOUNT, ['-n', '-o', 'remount,bind,ro', target]);
    } catch (err) {
      await unmount(target).catch(() => {});
      throw new TbuildError('TB_MOUNT', `read-only remount of ${target} failed: ${(err as Error).message}`, { cause: err });
    }
  }
}

/**
 * Unmount `target`; if it is busy, detach it lazily so the caller is never stuck holding it.
 */
export async function unmount(target: string): Promise<void> {
  try {
    await run(UMOUNT, ['-n', target]);
  } catch (err) {
    try {
      await run(UMOUNT, ['-n', '-l', target]);
    } catch (err2) {
      throw new TbuildError('TB_MOUNT', `unmount ${target} failed: ${(err as Error).message}; lazy: ${(err2 as Error).message}`, {
        cause: err2,
      });
    }
  }
}

/**
 * Perform `mounts` in order on `target` (stacked, as containerd's mount.All does). Resolves to a
 * function that undoes them in reverse order. If one fails, those already made are undone first.
 */
export async function mountAll(mounts: Mount[], target: string): Promise<() => Promise<void>> {
  const done: string[] = [];
  try {
    for (const m of mounts) {
      await mountOne(m, target);
      done.push(target);
    }
  } catch (err) {
    for (const t of done.reverse()) await unmount(t).catch(() => {});
    throw err;
  }
  let undone = false;
  return async () => {
    if (undone) return;
    undone = true;
    let first: unknown;
    for (const t of [...done].reverse()) {
      try {
        await unmount(t);
      } catch (err) {
        first ??= err;
      }
    }
    if (first) throw first;
  };
}

/** Mount, run `fn` on the mounted directory, and always unmount, even when `fn` throws. */
export async function withMounts<T>(mounts: Mount[], target: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const release = await mountAll(mounts, target);
  try {
    return await fn(target);
  } finally {
    await release();
  }
}

/** Mount points of this process's namespace, from /proc/self/mountinfo (octal escapes decoded). */
export function mountPoints(): string[] {
  let info: string;
  try {
    info = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of info.split('\n')) {
    const field = line.split(' ')[4];
    if (field) out.push(field.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))));
  }
  return out;
}

export function isMountPoint(dir: string): boolean {
  return mountPoints().includes(dir);
}

/** `dir` and every mount below it, deepest first (the order they must be detached in). */
export function mountPointsUnder(dir: string): string[] {
  return mountPoints()
    .filter((p) => p === dir || p.startsWith(dir + '/'))
    .sort((a, b) => b.length - a.length);
}
