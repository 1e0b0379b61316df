import type { BigIntStats } from 'node:fs';
import {
  chmodSync,
  closeSync,
  constants as C,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { chmod, constants, copyFile, link, lstat, lutimes, mkdir, readlink, symlink, unlink, utimes } from 'node:fs/promises';
import { posix } from 'node:path';
import { TbuildError } from '../../errors.js';
import { resolveInRoot } from '../../util/confine.js';
import type { ModeFn } from './chmod.js';
import { chownIfNeeded, errno, type Owner } from './fsutil.js';
import type { WalkEntry } from './select.js';
import { cachedContent } from '../../session/content-cache.js';
import type { CopyStats } from './types.js';

/** Parallel file writes: keeps libuv's pool busy without queueing thousands of requests. */
const FILE_CONCURRENCY = 32;
/**
 * Files up to this size are copied with synchronous calls on the main thread: for a small file
 * the thread-pool round trips of an async copy (copyFile, then utimes) cost several times the
 * calls themselves, and copyFile's clone/copy_file_range attempts fail on overlay anyway.
 */
const SMALL_FILE = 64 << 10;
/** Small files copied between two yields to the event loop. */
const SYNC_BATCH = 128;
const SCRATCH = Buffer.allocUnsafe(SMALL_FILE);
const MY_UID = process.getuid?.() ?? 0;
const MY_GID = process.getgid?.() ?? 0;
const IS_ROOT = MY_UID === 0;

/** What every entry written by one copy shares. */
export interface WriteContext {
  destRoot: string;
  /** Owner of created parents and inline files; of copied entries too unless `keepOwner`. */
  owner: Owner;
  /** Copied entries keep their source uid/gid (COPY --from without --chown). */
  keepOwner: boolean;
  modeFn?: ModeFn;
  stats: CopyStats;
  signal?: AbortSignal;
  /** dev:ino → host path of the first copy, so hardlinked sources stay hardlinked. */
  links: Map<string, string>;
  /** Host directories known to have (or not) the setgid bit, which gives new entries its group. */
  setgidDirs?: Map<string, boolean>;
}

export function newStats(): CopyStats {
  return { files: 0, dirs: 0, symlinks: 0, hardlinks: 0, bytes: 0 };
}

function secs(ns: bigint): number {
  return Number(ns) / 1e9;
}

/** Owner for a copied entry. */
export function entryOwner(ctx: WriteContext, st: BigIntStats): Owner {
  return ctx.keepOwner ? { uid: Number(st.uid), gid: Number(st.gid) } : ctx.owner;
}

/** Mode for a copied entry: the source's permission bits, or what `--chmod` makes of them. */
export function targetMode(ctx: WriteContext, st: BigIntStats): number {
  const mode = Number(st.mode & 0o7777n);
  return ctx.modeFn ? ctx.modeFn(mode, st.isDirectory()) : mode;
}

/** Make room for a non-directory at `host`; `known` = the caller knows nothing is there. */
async function clearPath(destRoot: string, host: string, known: boolean): Promise<void> {
  if (known) return;
  let st;
  try {
    st = await lstat(host);
  } catch (err) {
    if (errno(err) === 'ENOENT') return;
    throw err;
  }
  if (st.isDirectory()) {
    // BuildKit refuses to replace a directory with a file rather than deleting what it holds.
    const shown = host.startsWith(destRoot + '/') ? host.slice(destRoot.length) : host;
    throw new TbuildError('TB_COPY_DEST_IS_DIR', `cannot replace to directory ${shown} with file`);
  }
  await unlink(host);
}

/**
 * Write one non-directory entry at `host` (a file copy, a symlink, or a hardlink to an earlier
 * copy). Specials (devices, FIFOs, sockets) are skipped: Node cannot mknod, and contexts rarely
 * hold them. `empty`: the caller knows nothing is at `host` yet (skips an lstat).
 */
export async function writeEntry(ctx: WriteContext, src: string, st: BigIntStats, host: string, empty: boolean): Promise<void> {
  if (st.isFile()) {
    const key = st.nlink > 1n ? `${st.dev}:${st.ino}` : undefined;
    const first = key ? ctx.links.get(key) : undefined;
    await clearPath(ctx.destRoot, host, empty);
    if (first) {
      await link(first, host);
      ctx.stats.hardlinks++;
      return;
    }
    await copyFile(src, host, constants.COPYFILE_FICLONE);
    if (key) ctx.links.set(key, host);
    ctx.stats.files++;
    ctx.stats.bytes += Number(st.size);
    await chownIfNeeded(host, entryOwner(ctx, st), !inheritsGroup(ctx, posix.dirname(host)));
    // copyFile keeps the source's bits, but chown clears setuid/setgid: set them after it.
    const mode = targetMode(ctx, st);
    if (ctx.modeFn || (mode & 0o6000) !== 0) await chmod(host, mode);
    await utimes(host, secs(st.atimeNs), secs(st.mtimeNs));
  } else if (st.isSymbolicLink()) {
    const target = await readlink(src);
    await clearPath(ctx.destRoot, host, empty);
    await symlink(target, host);
    await chownIfNeeded(host, entryOwner(ctx, st), !inheritsGroup(ctx, posix.dirname(host)));
    await lutimes(host, secs(st.atimeNs), secs(st.mtimeNs));
    ctx.stats.symlinks++;
  }
}

/**
 * Whether new entries in host directory `dir` take its group (setgid) rather than ours: then a
 * new entry is not owned as we made it, and must be chowned even to our own ids.
 */
function inheritsGroup(ctx: WriteContext, dir: string): boolean {
  ctx.setgidDirs ??= new Map();
  let v = ctx.setgidDirs.get(dir);
  if (v === undefined) {
    v = (lstatSync(dir).mode & 0o2000) !== 0;
    ctx.setgidDirs.set(dir, v);
  }
  return v;
}

/**
 * `writeEntry` for a small regular file that is not hardlinked, with synchronous calls: open
 * both, copy the bytes, then owner, mode and times through the new file's descriptor. Same
 * result as the async path: the source's bytes, mode (or `--chmod`'s), owner and times.
 */
function copySmallSync(ctx: WriteContext, src: string, st: BigIntStats, host: string, empty: boolean, parentHost: string): void {
  if (!empty) clearPathSync(ctx.destRoot, host);
  // The bytes the checksum just read, when the file is provably unchanged since.
  const known = cachedContent(st);
  const rfd = known ? -1 : openSync(src, C.O_RDONLY | C.O_NOFOLLOW);
  try {
    const wfd = openSync(host, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
    try {
      let bytes = 0;
      if (known) {
        for (let off = 0; off < known.length; ) off += writeSync(wfd, known, off, known.length - off);
        bytes = known.length;
      }
      while (!known) {
        const n = readSync(rfd, SCRATCH, 0, SCRATCH.length, null);
        if (n === 0) break;
        for (let off = 0; off < n; ) off += writeSync(wfd, SCRATCH, off, n - off);
        bytes += n;
      }
      const owner = entryOwner(ctx, st);
      if (owner.uid !== MY_UID || owner.gid !== MY_GID || inheritsGroup(ctx, parentHost)) {
        if (IS_ROOT || owner.uid !== MY_UID || owner.gid !== MY_GID) fchownSync(wfd, owner.uid, owner.gid);
      }
      // after chown, which clears setuid/setgid; and the file was made 0600
      fchmodSync(wfd, targetMode(ctx, st));
      futimesSync(wfd, secs(st.atimeNs), secs(st.mtimeNs));
      ctx.stats.files++;
      ctx.stats.bytes += bytes;
    } finally {
      closeSync(wfd);
    }
  } finally {
    if (rfd >= 0) closeSync(rfd);
  }
}

/** `clearPath` with synchronous calls. */
function clearPathSync(destRoot: string, host: string): void {
  let st;
  try {
    st = lstatSync(host);
  } catch (err) {
    if (errno(err) === 'ENOENT') return;
    throw err;
  }
  if (st.isDirectory()) {
    const shown = host.startsWith(destRoot + '/') ? host.slice(destRoot.length) : host;
    throw new TbuildError('TB_COPY_DEST_IS_DIR', `cannot replace to directory ${shown} with file`);
  }
  unlinkSync(host);
}

/** Apply a copied directory's mode, owner and mtime. */
export async function dirMeta(ctx: WriteContext, host: string, st: BigIntStats, created: boolean): Promise<void> {
  ctx.setgidDirs?.delete(host); // its mode changes now
  await chownIfNeeded(host, entryOwner(ctx, st), created);
  await chmod(host, targetMode(ctx, st));
  await utimes(host, secs(st.atimeNs), secs(st.mtimeNs));
}

/**
 * Copy the walked contents of a source directory into the existing host directory `targetHost`
 * (container path `targetPath`). Subdirectories take the source's metadata (as BuildKit overwrites
 * metadata below the top); a symlink in the destination where a directory goes is followed inside
 * the root when it leads to a directory. Directories are made first, in order; then files are
 * written in parallel; directory metadata last, so their mtimes stick.
 */
export async function copyEntries(
  ctx: WriteContext,
  entries: WalkEntry[],
  targetHost: string,
  targetPath: string,
  targetCreated: boolean,
): Promise<void> {
  const dirHost = new Map<string, { host: string; created: boolean }>([['', { host: targetHost, created: targetCreated }]]);
  const dirs: Array<{ host: string; st: BigIntStats; created: boolean }> = [];
  const files: Array<{ src: string; st: BigIntStats; host: string; empty: boolean }> = [];
  const later: typeof files = [];
  const small: Array<{ src: string; st: BigIntStats; host: string; empty: boolean; parent: string }> = [];

  for (const e of entries) {
    ctx.signal?.throwIfAborted();
    const slash = e.rel.lastIndexOf('/');
    const parent = dirHost.get(slash < 0 ? '' : e.rel.slice(0, slash))!;
    const host = parent.host + '/' + e.rel.slice(slash + 1);
    if (e.st.isDirectory()) {
      let created = false;
      let at = host;
      if (parent.created) {
        mkdirSync(host, { mode: 0o700 });
        created = true;
      } else {
        created = await ensureDir(ctx.destRoot, host, posix.join(targetPath, e.rel));
        if (!created) at = await resolveExistingDir(ctx.destRoot, host, posix.join(targetPath, e.rel));
      }
      dirHost.set(e.rel, { host: at, created });
      dirs.push({ host: at, st: e.st, created });
      ctx.stats.dirs++;
      continue;
    }
    const item = { src: e.host, st: e.st, host, empty: parent.created };
    if (e.st.isFile() && e.st.nlink > 1n) later.push(item);
    else if (e.st.isFile() && e.st.size <= SMALL_FILE) small.push({ ...item, parent: parent.host });
    else files.push(item);
  }

  // Hardlinked files: the first of each set is copied (with the others), then the rest link to it.
  const seen = new Set<string>();
  const linkers: typeof files = [];
  for (const f of later) {
    const key = `${f.st.dev}:${f.st.ino}`;
    if (seen.has(key) || ctx.links.has(key)) linkers.push(f);
    else {
      seen.add(key);
      files.push(f);
    }
  }
  // Big files and symlinks go through the thread pool while small files are copied here. The
  // pool's outcome is caught at once (no unhandled rejection while this loop yields) and always
  // awaited: no write may still be running when this returns or throws.
  const rest = pool(files, FILE_CONCURRENCY, (f) => writeEntry(ctx, f.src, f.st, f.host, f.empty), ctx.signal).then(
    () => undefined,
    (err: unknown) => ({ err }),
  );
  let failure: { err: unknown } | undefined;
  try {
    for (let i = 0; i < small.length; i++) {
      if (i % SYNC_BATCH === 0 && i > 0) await new Promise<void>((r) => setImmediate(r));
      ctx.signal?.throwIfAborted();
      const f = small[i]!;
      copySmallSync(ctx, f.src, f.st, f.host, f.empty, f.parent);
    }
  } catch (err) {
    failure = { err };
  }
  const pooled = await rest;
  const first = failure ?? pooled;
  if (first) throw first.err;
  await pool(linkers, FILE_CONCURRENCY, (f) => writeEntry(ctx, f.src, f.st, f.host, f.empty), ctx.signal);
  // After every entry exists: chmod/chown/utimes of a dir do not touch its parent's mtime.
  for (const d of dirs) dirMetaSync(ctx, d.host, d.st, d.created);
}

/** `dirMeta` with synchronous calls (a few tiny calls per directory). */
function dirMetaSync(ctx: WriteContext, host: string, st: BigIntStats, created: boolean): void {
  ctx.setgidDirs?.delete(host); // its mode changes now
  const owner = entryOwner(ctx, st);
  if (!(created && owner.uid === MY_UID && owner.gid === MY_GID) && (IS_ROOT || owner.uid !== MY_UID || owner.gid !== MY_GID)) {
    lchownSync(host, owner.uid, owner.gid);
  }
  chmodSync(host, targetMode(ctx, st));
  utimesSync(host, secs(st.atimeNs), secs(st.mtimeNs));
}

/**
 * Create a directory at `host` unless one is there; true when created. A symlink leading (inside
 * the root) to a directory is used as that directory; any other non-directory in the way is an
 * error, as in BuildKit ("cannot copy to non-directory").
 */
async function ensureDir(destRoot: string, host: string, path: string): Promise<boolean> {
  try {
    await mkdir(host, { mode: 0o700 });
    return true;
  } catch (err) {
    if (errno(err) !== 'EEXIST') throw err;
  }
  const st = await lstat(host);
  if (st.isDirectory()) return false;
  if (st.isSymbolicLink()) {
    const real = await resolveInRoot(destRoot, path);
    const rst = await lstat(real).catch(() => undefined);
    if (rst?.isDirectory()) return false;
  }
  throw new TbuildError('TB_COPY_DEST_NOT_DIR', `cannot copy to non-directory: ${path}`);
}

async function resolveExistingDir(destRoot: string, host: string, path: string): Promise<string> {
  const st = await lstat(host);
  return st.isSymbolicLink() ? resolveInRoot(destRoot, path) : host;
}

/** Run `fn` over `items` with at most `limit` in flight; the first failure stops the rest. */
export async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>, signal?: AbortSignal): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      signal?.throwIfAborted();
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
