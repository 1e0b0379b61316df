import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  constants as C,
  fchmodSync,
  fchownSync,
  futimesSync,
  linkSync,
  lchownSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { mkdir, realpath } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { isTbuildError, TbuildError } from '../../errors.js';
import { isWithin, resolveInRootSync, splitPath } from '../../util/confine.js';
import { applyFsOps, S_IFBLK, S_IFCHR, type FsOp } from '../fsops.js';
import { OPAQUE_XATTR } from '../flatten.js';
import { OPAQUE_MARKER, WHITEOUT_PREFIX } from './tar-from-dir.js';
import { decompressChunks } from './decompress.js';
import { readTar, type TarEntryHeader } from './tar-reader.js';
import type { ApplyTarOptions, LayerDescriptor } from '../types.js';
import type { Digest } from '../../util/digest.js';
import { isNoSpace, noSpaceError } from '../../util/no-space.js';

const S_IFIFO = 0o010000;

/** `noOverwriteDirNonDir`: an entry whose kind (directory or not) differs from what it would replace. */
function kindClash(msg: string, name: string): TbuildError {
  return new TbuildError('TB_INVALID_ARGUMENT', msg, { details: { entry: name } });
}

function hostile(msg: string, name: string): TbuildError {
  return new TbuildError('TB_TAR_HOSTILE', `${msg}: ${JSON.stringify(name)}`, { details: { entry: name } });
}

/**
 * Lexically clean an archive path: leading `/` is dropped (absolute names land under the root),
 * `.` and empty parts vanish, and a `..` that would climb above the root is refused.
 */
export function cleanEntryPath(name: string): string[] {
  const out: string[] = [];
  for (const c of splitPath(name)) {
    if (c === '..') {
      if (!out.length) throw hostile('entry path leaves the root', name);
      out.pop();
    } else {
      out.push(c);
    }
  }
  return out;
}

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

function writeAll(fd: number, chunk: Uint8Array): void {
  let off = 0;
  while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
}

interface DirMeta {
  path: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
}

/**
 * Extract a layer tar into upperdir `dirIn`, turning `.wh.` entries into overlay whiteouts and
 * opaque markers. Every path is resolved with `resolveInRoot`, so nothing (`..`, absolute names,
 * symlinks, hard links) can reach outside `dirIn`. Device nodes other than whiteouts are skipped
 * unless `allowDevices`. Operations Node cannot do (mknod, setxattr) run as one batch at the end,
 * then directory metadata is set deepest first, so creating children does not disturb it.
 */
export async function applyTar(input: Readable, dirIn: string, opts: ApplyTarOptions = {}): Promise<LayerDescriptor> {
  await mkdir(dirIn, { recursive: true });
  const dir = await realpath(dirIn);
  // Symlinks resolve against `root`; entry names are relative to `dir` inside it.
  const root = opts.root === undefined ? dir : await realpath(opts.root);
  if (!isWithin(root, dir)) throw new TbuildError('TB_PATH_ESCAPE', `${dirIn} is not inside ${opts.root}`);
  const prefix = dir === root ? [] : splitPath(dir.slice(root.length));
  const whiteouts = opts.whiteouts ?? true;
  const keepKinds = Boolean(opts.noOverwriteDirNonDir);
  const hash = createHash('sha256');
  let size = 0;
  // Each chunk is written and hashed before the next is asked for: the reader may reuse its memory.
  const { chunks } = await decompressChunks(input);
  async function* hashed(): AsyncGenerator<Buffer> {
    for await (const c of chunks) {
      hash.update(c);
      size += c.length;
      yield c;
    }
  }
  const ops: FsOp[] = [];
  const dirs: DirMeta[] = [];

  // Parent directories already resolved and known to exist. Entries usually arrive directory by
  // directory, so this saves most lookups; anything that can change how a path resolves (a new
  // symlink, a removal) empties it.
  const parents = new Map<string, string>();
  const ensureParent = (comps: string[], name: string): string => {
    const key = comps.join('/');
    const known = parents.get(key);
    if (known !== undefined) return known;
    const parent = resolveInRootSync(root, [...prefix, ...comps].join('/'));
    const st = lstatOrUndefined(parent);
    if (!st) mkdirSync(parent, { recursive: true, mode: 0o755 });
    else if (!st.isDirectory()) throw hostile('entry parent is not a directory', name);
    parents.set(key, parent);
    return parent;
  };
  let removedAny = false;
  const remove = (p: string) => {
    parents.clear();
    removedAny = true;
    rmSync(p, { recursive: true, force: true });
  };

  try {
    for await (const entry of readTar(hashed())) await applyEntry(entry.body, entry.header);
  } catch (err) {
    await chunks.return(undefined).catch(() => {});
    if (err instanceof TbuildError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? '';
    // The machine's fault, not the archive's: say so, or the user hunts for a bad tar.
    if (isNoSpace(err)) throw noSpaceError(`a layer into ${dir}`, err);
    if (['EIO', 'EMFILE', 'ENFILE', 'EROFS'].includes(code)) {
      throw new TbuildError('TB_INTERNAL', `extracting layer into ${dir}: ${(err as Error).message}`, { cause: err });
    }
    throw new TbuildError('TB_TAR_FORMAT', `cannot extract layer tar: ${(err as Error).message}`, { cause: err });
  }

  async function applyEntry(entry: AsyncIterable<Buffer>, h: TarEntryHeader): Promise<void> {
    const comps = cleanEntryPath(h.name);
    if (!comps.length) return; // the root itself: its metadata belongs to the parent layer
    const base = comps[comps.length - 1]!;
    const parentComps = comps.slice(0, -1);
    const { mtime, uid, gid } = h;
    const mode = h.mode & 0o7777;

    if (whiteouts && base.startsWith(WHITEOUT_PREFIX)) {
      const parent = ensureParent(parentComps, h.name);
      if (base === OPAQUE_MARKER) {
        ops.push({ t: 'setx', p: parent, n: OPAQUE_XATTR, v: Buffer.from('y').toString('base64') });
        return;
      }
      const hidden = base.slice(WHITEOUT_PREFIX.length);
      if (!hidden || hidden === '.' || hidden === '..' || hidden.startsWith(WHITEOUT_PREFIX)) {
        throw hostile('invalid whiteout', h.name);
      }
      ops.push({ t: 'mknod', p: `${parent}/${hidden}`, mode: S_IFCHR, major: 0, minor: 0, uid, gid, mtime });
      return;
    }

    const parent = ensureParent(parentComps, h.name);
    const target = `${parent}/${base}`;
    const existing = lstatOrUndefined(target);
    if (h.type === '5') {
      if (existing && !existing.isDirectory() && keepKinds) throw kindClash(`cannot overwrite non-directory ${JSON.stringify(h.name)} with directory`, h.name);
      if (existing && !existing.isDirectory()) remove(target);
      if (!existing || !existing.isDirectory()) mkdirSync(target, { mode: 0o700 });
      dirs.push({ path: target, mode, uid, gid, mtime });
      queueXattrs(target, h, false);
      return;
    }
    if (existing?.isDirectory() && keepKinds) throw kindClash(`cannot overwrite directory ${JSON.stringify(h.name)} with non-directory`, h.name);
    if (existing) remove(target);

    switch (h.type) {
      case '0':
      case '7': {
        const fd = openSync(target, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
        try {
          for await (const chunk of entry) writeAll(fd, chunk);
          fchownSync(fd, uid, gid);
          fchmodSync(fd, mode); // after chown, which clears setuid/setgid
          futimesSync(fd, mtime, mtime);
        } finally {
          closeSync(fd);
        }
        queueXattrs(target, h, false);
        return;
      }
      case '1': {
        const srcComps = cleanEntryPath(h.linkname);
        if (!srcComps.length) throw hostile('hard link to the root', h.name);
        // Link targets usually sit in a directory already resolved for an earlier entry.
        const srcParentComps = srcComps.slice(0, -1);
        const srcParent = parents.get(srcParentComps.join('/')) ?? resolveInRootSync(root, [...prefix, ...srcParentComps].join('/'));
        const src = `${srcParent}/${srcComps[srcComps.length - 1]}`;
        const st = lstatOrUndefined(src);
        if (!st) throw hostile(`hard link target ${JSON.stringify(h.linkname)} is not in the layer`, h.name);
        if (st.isDirectory()) throw hostile('hard link to a directory', h.name);
        // Nothing is at `target` now (an existing entry was removed, which emptied the cache), so
        // no cached parent can lead through it: the new link cannot change how they resolve.
        linkSync(src, target);
        return;
      }
      case '2':
        // As for hard links: a new name where nothing was changes no cached parent.
        symlinkSync(h.linkname, target);
        lchownSync(target, uid, gid);
        lutimesSync(target, mtime, mtime);
        queueXattrs(target, h, true);
        return;
      case '3':
      case '4': {
        if (!opts.allowDevices) return; // refused: only whiteouts may create device nodes here
        const kind = h.type === '3' ? S_IFCHR : S_IFBLK;
        ops.push({ t: 'mknod', p: target, mode: kind | mode, major: h.devmajor, minor: h.devminor, uid, gid, mtime });
        queueXattrs(target, h, false);
        return;
      }
      case '6':
        ops.push({ t: 'mknod', p: target, mode: S_IFIFO | mode, major: 0, minor: 0, uid, gid, mtime });
        queueXattrs(target, h, false);
        return;
      default:
        throw new TbuildError('TB_TAR_FORMAT', `unsupported tar entry type ${String(h.type)}: ${JSON.stringify(h.name)}`);
    }
  }

  function queueXattrs(p: string, h: TarEntryHeader, soft: boolean): void {
    for (const [name, value] of h.xattrs) {
      // overlay's own attributes would change what the layer means (opaque, redirect): never from a tar
      if (name.startsWith('trusted.overlay.')) continue;
      ops.push({ t: 'setx', p, n: name, v: value.toString('base64'), ...(soft ? { soft } : {}) });
    }
  }

  await applyFsOps(root, ops).catch((err: unknown) => {
    // The ops run after every entry was written. When an entry removed something and the ops then
    // find a directory gone or a file where one was (ENOENT, ENOTDIR), a later entry replaced the
    // directory an earlier one (a device node, a whiteout, an xattr) was to be made in: the
    // archive's doing, not the machine's.
    const errors = isTbuildError(err, 'TB_INTERNAL') ? ((err.details.errors as [string, string][] | undefined) ?? []) : [];
    if (removedAny && errors.length && errors.every(([, m]) => /^\[Errno (2|20)\]/.test(m))) {
      throw new TbuildError('TB_TAR_HOSTILE', `a later entry replaced the directory of an earlier one: ${(err as Error).message}`, { cause: err });
    }
    throw err;
  });
  // Deepest first, and never through a path that has become a symlink since.
  dirs.sort((a, b) => b.path.length - a.path.length);
  // Synchronous: a handful of tiny calls per directory cost less than thread-pool round trips.
  for (const d of dirs) {
    const st = lstatOrUndefined(d.path);
    if (!st?.isDirectory() || realpathSync.native(d.path) !== d.path) continue;
    if (st.uid !== d.uid || st.gid !== d.gid) lchownSync(d.path, d.uid, d.gid);
    // after chown, which clears setgid
    if ((st.mode & 0o7777) !== d.mode || st.uid !== d.uid || st.gid !== d.gid) chmodSync(d.path, d.mode);
    lutimesSync(d.path, d.mtime, d.mtime);
  }
  return { diffId: `sha256:${hash.digest('hex')}` as Digest, size };
}

