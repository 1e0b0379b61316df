import { chmod, lchown, lstat, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { TbuildError } from '../../errors.js';
import { resolveInRoot } from '../../util/confine.js';

export interface Owner {
  uid: number;
  gid: number;
}

export function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

const isRoot = process.getuid?.() === 0;
const myGid = process.getgid?.() ?? 0;
const myUid = process.getuid?.() ?? 0;

/** lchown unless the entry is already owned that way (a new file is owned by us). Needs root otherwise. */
export async function chownIfNeeded(path: string, owner: Owner, createdByUs: boolean): Promise<void> {
  if (createdByUs && owner.uid === myUid && owner.gid === myGid) return;
  if (!isRoot && owner.uid === myUid && owner.gid === myGid) return;
  await lchown(path, owner.uid, owner.gid);
}

/**
 * `mkdir -p` of container path `path` inside `root`: existing components (symlinks included) are
 * followed inside the root, missing ones are created with `mode` and `owner`. Returns the host path.
 * A non-directory in the way → TB_COPY_DEST_NOT_DIR.
 */
export async function mkdirAllInRoot(root: string, path: string, mode: number, owner: Owner): Promise<string> {
  const host = await resolveInRoot(root, path);
  const missing: string[] = [];
  let cur = host;
  for (;;) {
    try {
      const st = await lstat(cur);
      if (!st.isDirectory()) {
        throw new TbuildError('TB_COPY_DEST_NOT_DIR', `cannot create directory ${path}: ${cur.slice(root.length) || '/'} is not a directory`);
      }
      break;
    } catch (err) {
      if (err instanceof TbuildError || (errno(err) !== 'ENOENT' && errno(err) !== 'ENOTDIR')) throw err;
      missing.push(cur);
      const up = dirname(cur);
      if (up === cur) break;
      cur = up;
    }
  }
  for (const dir of missing.reverse()) {
    try {
      await mkdir(dir, { mode });
    } catch (err) {
      if (errno(err) !== 'EEXIST') throw err;
      continue;
    }
    await chownIfNeeded(dir, owner, true);
    // mkdir applies the umask; the mode asked for is the mode wanted.
    await chmod(dir, mode);
  }
  return host;
}
