import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { TbuildError } from '../errors.js';
import { unmount } from '../util/mount.js';

/**
 * Named network namespaces as files: `unshare --net=FILE` makes a fresh namespace and bind-mounts
 * it on FILE, so it lives without any process in it until the mount goes (what `ip netns add`
 * does under /run/netns, here under the state root so each root owns its own).
 */

function run(bin: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: 30_000 }, (err, _out, stderr) =>
      err ? reject(new Error(String(stderr || err.message).trim())) : resolve(),
    );
  });
}

/** Create the namespace file `path` (which must not exist) with a new namespace mounted on it. */
export async function createNetns(path: string): Promise<void> {
  const fh = await open(path, 'wx', 0o444);
  await fh.close();
  try {
    // `lo` comes up here: a fresh namespace has it down, and netavark only configures eth0.
    await run('unshare', [`--net=${path}`, 'ip', 'link', 'set', 'lo', 'up']);
  } catch (err) {
    await unlink(path).catch(() => {});
    throw new TbuildError('TB_NETWORK_FAILED', `cannot create network namespace ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Whether a namespace is mounted on `path` (listed in /proc/self/mountinfo). */
export function isMounted(path: string, mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): boolean {
  const esc = path.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  return mountinfo.split('\n').some((l) => l.split(' ')[4] === esc);
}

/** Unmount (every stacked mount) and delete the namespace file; the namespace dies with its last user. */
export async function removeNetns(path: string): Promise<void> {
  for (let i = 0; i < 4 && isMounted(path); i++) await unmount(path).catch(() => {});
  await unlink(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e;
  });
}
