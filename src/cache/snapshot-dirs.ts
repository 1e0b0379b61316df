import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TbuildError } from '../errors.js';
import { ownedName } from '../util/owned-temp.js';
import { diskUsage } from './usage.js';
import type { Usage } from './types.js';

/** A snapshot's directory on disk, `<dir>/<id>/{fs,work}`: made, sized and removed crash-safely. */

/**
 * The snapshot's directory, made under a random name and renamed into place; false when the id's
 * directory already exists (a crash left it, or it is being removed). On ext4 the snapshots
 * directory carries the Orlov "top directory" flag, so each new child lands in a block group
 * picked from a hash of its name: a random name puts every layer's files in a fresh group, not in
 * one where many inodes were deleted in the last minutes (which ext4 without a journal scans past
 * on every create, making a 5,000-file COPY take seconds instead of a tenth). `content`, a
 * directory on the same filesystem, becomes its `fs` (and goes back where it was on failure).
 */
export async function makeSnapshotDir(dir: string, id: number, active: boolean, content?: string): Promise<boolean> {
  const tmp = join(dir, `.${ownedName('new', randomBytes(8).toString('hex'))}`);
  await mkdir(tmp);
  let moved = false;
  try {
    if (content === undefined) await mkdir(join(tmp, 'fs'));
    else await rename(content, join(tmp, 'fs')).then(() => (moved = true), (err: NodeJS.ErrnoException) => Promise.reject(err.code === 'EXDEV' ? new TbuildError('TB_INVALID_ARGUMENT', `${content} is not on the snapshotter's filesystem (${dir})`, { cause: err }) : err));
    if (active) await mkdir(join(tmp, 'work'));
    await rename(tmp, join(dir, String(id)));
    return true;
  } catch (err) {
    if (moved) await rename(join(tmp, 'fs'), content!).catch(() => {});
    await rm(tmp, { recursive: true, force: true }).catch(() => {});
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTEMPTY') return false;
    throw err;
  }
}

/**
 * Renamed aside first, then deleted: a crash mid-delete leaves a dot-dir the next open sweeps,
 * never a half-deleted directory under a live id.
 */
export async function removeSnapshotDir(dir: string, id: number): Promise<void> {
  const trash = join(dir, `.${ownedName('trash')}`);
  await rename(join(dir, String(id)), trash).catch(() => {});
  await rm(trash, { recursive: true, force: true });
}

/**
 * A committed layer never changes: its size is counted once and kept beside it, so the automatic
 * GC after every build reads one small file per layer instead of walking them all.
 */
export async function committedUsage(dir: string, id: number): Promise<Usage> {
  const memo = join(dir, String(id), 'usage.json');
  try {
    return JSON.parse(readFileSync(memo, 'utf8')) as Usage;
  } catch {
    const u = await diskUsage(join(dir, String(id), 'fs'));
    await writeFile(memo, JSON.stringify(u)).catch(() => {});
    return u;
  }
}
