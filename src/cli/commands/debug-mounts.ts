import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Snapshotter } from '../../cache/types.js';
import type { DebugMount } from '../../records/types.js';
import { mountAll, mountPointsUnder, unmount } from '../../util/mount.js';
import { ownedName } from '../../util/owned-temp.js';
import { bindSource } from '../../worker/bind-source.js';

export interface DebugMounts {
  /** `tbuild run` options that make the mounts. */
  args: string[];
  /** What could not be made again, one line each, for stderr. */
  notes: string[];
  release(): Promise<void>;
}

/**
 * A RUN step's mounts made again for `tbuild debug`: a cache mount is its directory (shared with
 * later builds, as it was with the step), a tmpfs is a new one, a bind shows the same files — from
 * the layers of the stage it read (a view, or a throw-away writable snapshot for a writable bind)
 * or from the build context if that directory is still there. Secrets and ssh agents never outlive
 * their step: they are named, not mounted. Scratch lives in `<root>/tmp/dbg-<owner>`, swept if
 * this process dies.
 */
export async function debugMounts(root: string, snapshots: Snapshotter, mounts: DebugMount[]): Promise<DebugMounts> {
  const args: string[] = [];
  const notes: string[] = [];
  const undo: Array<() => Promise<void>> = [];
  const scratch = join(root, 'tmp', ownedName('dbg'));
  await mkdir(scratch, { recursive: true });
  const work = () => mkdtemp(join(scratch, 'w-'));
  const release = async () => {
    for (const u of undo.reverse()) await u().catch(() => {});
    for (const p of mountPointsUnder(scratch)) await unmount(p).catch(() => {});
    await rm(scratch, { recursive: true, force: true });
  };
  try {
    for (const m of mounts) {
      const ro = 'readonly' in m && m.readonly ? ':ro' : '';
      switch (m.type) {
        case 'cache':
          if (existsSync(m.dir)) args.push('-v', `${m.dir}:${m.target}${ro}`);
          else notes.push(`cache mount ${m.target}: its cache has been pruned since; not mounted`);
          break;
        case 'tmpfs':
          args.push('--tmpfs', m.size ? `${m.target}:size=${m.size}` : m.target);
          break;
        case 'bind': {
          let from: string;
          if (m.context !== undefined) {
            if (!existsSync(m.context)) {
              notes.push(`bind mount ${m.target}: the build context it read (${m.context}) is gone; not mounted`);
              break;
            }
            from = m.context;
          } else {
            from = await mkdtemp(join(scratch, 'v-'));
            const top = m.layers?.at(-1)?.snapshot;
            if (top !== undefined) {
              // a writable bind's writes are thrown away: a snapshot of its own, removed afterwards
              const key = ownedName('dbg-bind');
              const made = await (m.readonly ? snapshots.view(key, top) : snapshots.prepare(key, top));
              undo.push(() => snapshots.remove(key));
              undo.push(await mountAll(made, from));
            }
          }
          const bound = await bindSource(from, m.source, m.readonly || m.context === undefined, work);
          undo.push(bound.release);
          args.push('-v', `${bound.path}:${m.target}${ro}`);
          break;
        }
        case 'secret':
          notes.push(`secret ${m.id}${m.target ? ` (${m.target})` : ''}${m.env ? ` (env ${m.env})` : ''}: secrets never outlive their step; not mounted`);
          break;
        case 'ssh':
          notes.push(`ssh agent ${m.id} (${m.target}): not forwarded to a debug container`);
          break;
      }
    }
    return { args, notes, release };
  } catch (err) {
    await release();
    throw err;
  }
}
