import { createWriteStream } from 'node:fs';
import { chmod, link, lstat, lutimes, mkdir, rm, symlink, unlink, utimes } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract, type Header as TarHeaders } from 'tar-stream';
import { TbuildError } from '../../errors.js';
import { resolveInRoot } from '../../util/confine.js';
import { chownIfNeeded, errno, mkdirAllInRoot, type Owner } from './fsutil.js';

export interface UntarOptions {
  /** Host dir acting as `/`: nothing is written outside it, symlinks are followed inside it. */
  root: string;
  /** Container path (inside `root`) to extract into; created if missing. */
  dir: string;
  /**
   * Owner of everything extracted: a fixed owner (`--chown`), the owner in each header ('header'),
   * or leave it to the extracting process ('none').
   */
  owner: Owner | 'header' | 'none';
  /** Owner of missing parent directories this creates. Default 0:0. */
  parentOwner?: Owner;
  /** Device nodes and FIFOs: refuse (TB_TAR_HOSTILE) or skip them. */
  specials: 'refuse' | 'skip';
  signal?: AbortSignal;
}

export interface UntarStats {
  entries: number;
  files: number;
  bytes: number;
}

const ROOT_OWNER: Owner = { uid: 0, gid: 0 };

function hostile(name: string, why: string): TbuildError {
  return new TbuildError('TB_TAR_HOSTILE', `refusing tar entry ${JSON.stringify(name)}: ${why}`, { details: { entry: name } });
}

/** Entry name → path relative to the extraction dir; names climbing out are hostile. Leading `/` is dropped. */
export function entryPath(name: string): string {
  // `./` normalizes to `./`: without its slash it is the directory itself, as `.` is
  const norm = posix.normalize(name.replace(/^\/+/, '') || '.').replace(/\/+$/, '') || '.';
  if (norm === '..' || norm.startsWith('../')) throw hostile(name, 'path leaves the extraction directory');
  return norm === '.' ? '' : norm;
}

/**
 * Extract an uncompressed tar stream into `dir` under `root`. Whiteout names are ordinary files
 * here (ADD and contexts do not interpret them). Existing non-directories are replaced; existing
 * directories are merged into. Directory modes and mtimes are applied after their contents.
 */
export async function untar(stream: Readable, opts: UntarOptions): Promise<UntarStats> {
  const parentOwner = opts.parentOwner ?? ROOT_OWNER;
  const base = posix.normalize('/' + opts.dir);
  await mkdirAllInRoot(opts.root, base, 0o755, parentOwner);
  const stats: UntarStats = { entries: 0, files: 0, bytes: 0 };
  const dirs: Array<{ host: string; header: TarHeaders }> = [];
  // Parent dirs already resolved in this extraction: saves a confined lookup per entry. Dropped
  // whenever an entry could change what a path resolves to (a symlink, a removed directory).
  const parents = new Map<string, string>();
  const parentOf = async (containerDir: string): Promise<string> => {
    let host = parents.get(containerDir);
    if (host) return host;
    // One level below a directory resolved already: one lstat (a real directory, or nothing to
    // make), not a walk from the root; a deep tree stays linear in its number of entries.
    const upHost = parents.get(posix.dirname(containerDir));
    if (upHost !== undefined && containerDir !== '/') {
      const candidate = upHost + '/' + posix.basename(containerDir);
      const st = await lstat(candidate).catch(() => undefined);
      if (st?.isDirectory()) host = candidate;
      else if (!st) host = await mkdirAllInRoot(upHost, '/' + posix.basename(containerDir), 0o755, parentOwner);
    }
    host ??= await mkdirAllInRoot(opts.root, containerDir, 0o755, parentOwner);
    parents.set(containerDir, host);
    return host;
  };
  const ex = extract();
  const done = pipeline(stream, ex).catch((err: unknown) => {
    throw formatError(err);
  });
  // Awaited below. A stream that fails while an entry is being written must not count as an
  // unhandled rejection in the meantime (that ends the process), and must end that entry's copy:
  // tar-stream does not end an entry cut short, so the copy would wait for ever.
  let failure: { err: unknown } | undefined;
  let onFailure: ((err: unknown) => void) | undefined;
  done.catch((err: unknown) => {
    failure = { err };
    onFailure?.(err);
  });
  try {
    for await (const entry of ex) {
      opts.signal?.throwIfAborted();
      stats.entries++;
      const h = entry.header;
      const rel = entryPath(h.name);
      const special = h.type === 'character-device' || h.type === 'block-device' || h.type === 'fifo';
      if (special && opts.specials === 'refuse') throw hostile(h.name, `${h.type} entries are not allowed`);
      if (special || !['file', 'contiguous-file', 'directory', 'symlink', 'link'].includes(h.type ?? 'file')) {
        entry.resume();
        continue;
      }
      if (rel === '') {
        entry.resume();
        continue;
      }
      const containerPath = posix.join(base, rel);
      const parent = await parentOf(posix.dirname(containerPath)).catch((err: unknown) => {
        // an earlier entry left a file where this one needs a directory
        if (err instanceof TbuildError && err.code === 'TB_COPY_DEST_NOT_DIR') throw new TbuildError('TB_TAR_FORMAT', `tar entry ${JSON.stringify(h.name)}: ${err.message}`, { cause: err, details: { entry: h.name } });
        throw err;
      });
      const host = parent + '/' + posix.basename(containerPath);
      const owner = opts.owner === 'header' ? { uid: h.uid ?? 0, gid: h.gid ?? 0 } : opts.owner;
      const mode = (h.mode ?? 0o644) & 0o7777;

      if (h.type === 'directory') {
        if (await clearFor(host, true)) parents.clear();
        try {
          await mkdir(host, { mode: 0o700 });
        } catch (err) {
          if (errno(err) !== 'EEXIST') throw err;
        }
        if (owner !== 'none') await chownIfNeeded(host, owner, false);
        dirs.push({ host, header: h });
        entry.resume();
        continue;
      }
      if ((await clearFor(host, false)) || h.type === 'symlink') parents.clear();
      if (h.type === 'symlink') {
        await symlink(h.linkname ?? '', host);
        if (owner !== 'none') await chownIfNeeded(host, owner, true);
        if (h.mtime) await lutimes(host, h.mtime, h.mtime);
        entry.resume();
      } else if (h.type === 'link') {
        const target = posix.join(base, entryPath(h.linkname ?? ''));
        const targetHost = await resolveInRoot(opts.root, target, { followFinal: false });
        const st = await lstat(targetHost).catch(() => undefined);
        if (!st) throw new TbuildError('TB_TAR_FORMAT', `tar entry ${JSON.stringify(h.name)}: hard link target ${JSON.stringify(h.linkname)} is not in the archive before it`, { details: { entry: h.name } });
        if (st.isDirectory()) throw hostile(h.name, 'hard link to a directory');
        await link(targetHost, host);
        entry.resume();
      } else {
        const out = createWriteStream(host, { mode: 0o600 });
        const copying = pipeline(entry, out);
        copying.catch(() => {});
        await new Promise<void>((resolve, reject) => {
          if (failure) return reject(failure.err);
          onFailure = reject;
          copying.then(resolve, reject);
        })
          .finally(() => (onFailure = undefined))
          .catch(async (err: unknown) => {
            // tar-stream's entry (a streamx stream) does not end the pipeline when destroyed: close
            // the file ourselves, and wait for its descriptor to be released
            entry.destroy();
            if (!out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve()).destroy());
            throw err;
          });
        stats.files++;
        stats.bytes += h.size ?? 0;
        if (owner !== 'none') await chownIfNeeded(host, owner, true);
        await chmod(host, mode);
        if (h.mtime) await utimes(host, h.mtime, h.mtime);
      }
    }
    await done;
  } catch (err) {
    ex.destroy();
    stream.destroy();
    await done.catch(() => {});
    throw formatError(err);
  }
  // Deepest first, so setting a parent's mtime is not undone by its children.
  for (const d of dirs.reverse()) {
    // A later entry may have replaced it (with a symlink, even): chmod would follow that out of the root.
    if (!(await lstat(d.host).catch(() => undefined))?.isDirectory()) continue;
    await chmod(d.host, (d.header.mode ?? 0o755) & 0o7777);
    if (d.header.mtime) await utimes(d.host, d.header.mtime, d.header.mtime);
  }
  return stats;
}

/**
 * Make room for an entry: a non-directory in the way goes; a directory stays for a directory entry.
 * True when something that could have been a path component (a dir or a symlink) was removed.
 */
async function clearFor(host: string, isDir: boolean): Promise<boolean> {
  let st;
  try {
    st = await lstat(host);
  } catch (err) {
    if (errno(err) === 'ENOENT') return false;
    throw err;
  }
  if (st.isDirectory()) {
    if (isDir) return false;
    await rm(host, { recursive: true, force: true });
    return true;
  }
  await unlink(host);
  return st.isSymbolicLink();
}

function formatError(err: unknown): unknown {
  if (err instanceof TbuildError) return err;
  const e = err as Error;
  const code = errno(err) ?? '';
  // zlib (Z_*) and tar-stream parse errors; filesystem errors (ENOSPC, EACCES…) stay as they are.
  if (e && (code.startsWith('Z_') || (!code && /header|tar|unexpected end|invalid/i.test(e.message ?? '')))) {
    return new TbuildError('TB_TAR_FORMAT', `invalid tar archive: ${e.message}`, { cause: err });
  }
  return err;
}
