import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { TbuildError } from '../errors.js';

/** Linux follows at most 40 links in one lookup; beyond that we call it a loop, as the kernel would. */
const MAX_LINKS = 40;

export interface ConfineOptions {
  /** Follow a symlink in the last component too (default true). False: the result names the link itself. */
  followFinal?: boolean;
}

/**
 * Resolve `path` as if `root` were `/`: symlinks met on the way are followed inside the root
 * (an absolute target is re-rooted, `..` stops at the root), so the result always lies in `root`.
 * Components that do not exist are taken literally. The result is an absolute host path with no
 * symlink in its directory part (and none at the end unless `followFinal` is false).
 * Throws TB_PATH_ESCAPE only when resolution cannot finish (a symlink loop).
 */
export async function resolveInRoot(root: string, path: string, opts: ConfineOptions = {}): Promise<string> {
  // The lookups are a few lstat calls on (almost always) cached inodes: done synchronously they
  // cost microseconds, through the thread pool each costs a round trip. COPY calls this per file.
  return resolveInRootSync(root, path, opts);
}

/** Synchronous twin of `resolveInRoot`, for callers already inside sync code. */
export function resolveInRootSync(rootIn: string, path: string, opts: ConfineOptions = {}): string {
  const followFinal = opts.followFinal ?? true;
  const root = resolvePath(rootIn);
  const base = root === '/' ? '' : root;
  // Components still to walk, last first (pop is O(1)); the path so far grows by appending, and
  // `lengths` remembers where each component started, so `..` is O(1) too. Deep trees (thousands
  // of levels) stay linear in the path's length.
  const todo = splitPath(path).reverse();
  let done = 0;
  let cur = base;
  let lengths: number[] = [];
  // Below a component that does not exist nothing exists either: no more lookups until `..`.
  let missing = false;
  let links = 0;
  while (todo.length) {
    const comp = todo.pop()!;
    if (comp === '..') {
      if (done) {
        done--;
        cur = cur.slice(0, lengths.pop());
      }
      missing = false;
      continue;
    }
    const candidate = cur + '/' + comp;
    const isFinal = todo.length === 0;
    const st = missing ? undefined : lstatOrUndefined(candidate);
    if (!st) missing = true;
    if (!st || !st.isSymbolicLink() || (isFinal && !followFinal)) {
      lengths.push(cur.length);
      cur = candidate;
      done++;
      continue;
    }
    if (++links > MAX_LINKS) {
      throw new TbuildError('TB_PATH_ESCAPE', `too many levels of symbolic links resolving ${JSON.stringify(path)} in ${root}`);
    }
    const target = readlinkSync(candidate);
    if (target.startsWith('/')) {
      done = 0;
      cur = base;
      lengths = [];
    }
    for (const c of splitPath(target).reverse()) todo.push(c);
  }
  return done ? cur : root;
}

/** Split a path into its components, dropping empty ones and `.`. */
export function splitPath(p: string): string[] {
  return p.split('/').filter((c) => c !== '' && c !== '.');
}

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch (err) {
    return notFoundToUndefined(err);
  }
}

function notFoundToUndefined(err: unknown): undefined {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
  throw err;
}

/** True when `p` is `root` or lies below it (lexically). */
export function isWithin(root: string, p: string): boolean {
  const r = resolvePath(root);
  const x = resolvePath(p);
  return x === r || x.startsWith(r === '/' ? '/' : r + '/');
}
