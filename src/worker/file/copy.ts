import type { BigIntStats } from 'node:fs';
import { createReadStream } from 'node:fs';
import { chmod, lstat, stat, writeFile, utimes } from 'node:fs/promises';
import { posix } from 'node:path';
import { TbuildError } from '../../errors.js';
import { resolveChown } from '../../exec/user.js';
import { resolveInRoot } from '../../util/confine.js';
import { compilePatterns } from '../../session/ignore.js';
import { isArchiveFile, openTarStream } from './archive.js';
import { parseChmod } from './chmod.js';
import { chownIfNeeded, errno, mkdirAllInRoot, type Owner } from './fsutil.js';
import { selectSource, walkSelection, type Selected } from './select.js';
import { copyEntries, dirMeta, newStats, writeEntry, type WriteContext } from './tree.js';
import type { CopyRequest, CopyStats } from './types.js';
import { untar } from './untar.js';

const ROOT: Owner = { uid: 0, gid: 0 };

/** `http(s)://…`, `git@host:repo`, `git://…`: sources this build cannot fetch. */
export function isRemoteSource(src: string): boolean {
  return /^(https?|git|ssh):\/\//i.test(src) || /^git@[^:]+:/.test(src);
}

/** A destination written as a directory: trailing `/`, or `.`/`..` as its last component. */
function dirLike(dest: string): boolean {
  return dest.endsWith('/') || dest === '.' || dest === '..' || dest.endsWith('/.') || dest.endsWith('/..');
}

async function isDirIn(root: string, path: string): Promise<boolean> {
  try {
    return (await stat(await resolveInRoot(root, path))).isDirectory();
  } catch (err) {
    if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return false;
    throw err;
  }
}

/**
 * One COPY/ADD (see `CopyFiles` in ./types.ts for the contract). Sources are resolved (and
 * missing ones reported) before anything is written.
 */
export async function copyFiles(req: CopyRequest): Promise<CopyStats> {
  const inline = req.inline ?? [];
  for (const src of req.sources) {
    if (!isRemoteSource(src)) continue;
    if (req.add) {
      throw new TbuildError('TB_ADD_REMOTE_UNSUPPORTED', `ADD from a remote source is not supported: ${src}`, { details: { source: src } });
    }
    throw new TbuildError('TB_INVALID_ARGUMENT', `source can't be a URL for COPY: ${src}`, { details: { source: src } });
  }
  if (req.sources.length && !req.srcRoot) throw new TbuildError('TB_INTERNAL', 'copyFiles: sources given without srcRoot');

  const owner = req.chown ? await resolveChown(req.chownRoot ?? req.destRoot, req.chown) : ROOT;
  const modeFn = req.chmod ? parseChmod(req.chmod) : undefined;
  const excludes = req.excludes?.length ? compilePatterns(req.excludes) : undefined;
  const keepOwner = !req.chown && (req.keepOwner ?? req.ignore === undefined);
  const ctx: WriteContext = { destRoot: req.destRoot, owner, keepOwner, modeFn, stats: newStats(), signal: req.signal, links: new Map() };

  const selections: Selected[] = [];
  for (const word of req.sources) {
    for (const sel of await selectSource(req.srcRoot!, word, { ignore: req.ignore, parents: req.parents })) {
      if (sel.excludeName !== undefined && excludes?.matches(sel.excludeName)) continue;
      selections.push(sel);
    }
  }

  const workdir = req.workdir ?? '/';
  const absDest = posix.normalize(req.dest.startsWith('/') ? req.dest : posix.join('/', workdir, req.dest || '.'));
  const total = selections.length + inline.length;
  if (total === 0) return ctx.stats; // only wildcards that matched nothing: BuildKit copies nothing
  const destIsDir = dirLike(req.dest) || req.parents === true || (await isDirIn(req.destRoot, absDest));
  if (!destIsDir && (req.sources.length + inline.length > 1 || total > 1)) {
    throw new TbuildError(
      'TB_COPY_DEST_NOT_DIR',
      'When using COPY with more than one source file, the destination must be a directory and end with a /',
      { details: { dest: req.dest } },
    );
  }

  for (const sel of selections) {
    req.signal?.throwIfAborted();
    await copySelection(ctx, req, sel, absDest, destIsDir, excludes);
  }
  for (const doc of inline) {
    const target = destIsDir ? posix.join(absDest, doc.name) : absDest;
    await writeInline(ctx, target, doc.content);
  }
  return ctx.stats;
}

async function copySelection(
  ctx: WriteContext,
  req: CopyRequest,
  sel: Selected,
  destPath: string,
  destIsDir: boolean,
  excludes: ReturnType<typeof compilePatterns> | undefined,
): Promise<void> {
  let target: string;
  if (sel.keep !== undefined) {
    target = posix.join(destPath, sel.keep);
    await copyParentDirs(ctx, req.srcRoot!, sel, destPath);
  } else if (sel.st.isDirectory()) {
    target = destPath;
  } else {
    target = destIsDir ? posix.join(destPath, posix.basename(sel.name)) : destPath;
  }

  if (sel.st.isDirectory()) {
    const entries = await walkSelection(sel, { ignore: req.ignore, excludes });
    const existed = await isDirIn(ctx.destRoot, target);
    // Only the contents are copied: a destination dir this creates is 0755 and owned by --chown
    // (or root), not a copy of the source dir; an existing one keeps its metadata.
    const host = await mkdirAllInRoot(ctx.destRoot, target, 0o755, ctx.owner);
    await copyEntries(ctx, entries, host, target, !existed);
    return;
  }

  if (req.add && req.unpack !== false && sel.st.isFile() && (await isArchiveFile(sel.host))) {
    const opened = await openTarStream(createReadStream(sel.host));
    if (opened) {
      // An archive always extracts into a directory: the destination as written.
      const dir = sel.keep !== undefined ? posix.dirname(target) : destPath;
      const st = await untar(opened.tar, {
        root: ctx.destRoot,
        dir,
        owner: req.chown ? ctx.owner : 'header',
        parentOwner: ctx.owner,
        specials: 'skip',
        signal: ctx.signal,
      });
      ctx.stats.files += st.files;
      ctx.stats.bytes += st.bytes;
      return;
    }
  }

  const parent = await mkdirAllInRoot(ctx.destRoot, posix.dirname(target), 0o755, ctx.owner);
  let host = parent + '/' + posix.basename(target);
  // The destination's own final symlink is followed inside the root, as BuildKit's RootPath does.
  const existing = await lstat(host).catch(() => undefined);
  if (existing?.isSymbolicLink()) host = await resolveInRoot(ctx.destRoot, target);
  await writeEntry(ctx, sel.host, sel.st, host, existing === undefined);
}

/** `--parents`: directories between the destination and a match take the source dirs' metadata. */
async function copyParentDirs(ctx: WriteContext, srcRoot: string, sel: Selected, destPath: string): Promise<void> {
  const keep = sel.keep!;
  const comps = keep.split('/').filter(Boolean);
  comps.pop();
  if (!comps.length) {
    await mkdirAllInRoot(ctx.destRoot, destPath, 0o755, ctx.owner);
    return;
  }
  const srcBase = sel.name.slice(0, sel.name.length - keep.length);
  for (let i = 1; i <= comps.length; i++) {
    const rel = comps.slice(0, i).join('/');
    const path = posix.join(destPath, rel);
    if (await isDirIn(ctx.destRoot, path)) continue;
    const host = await mkdirAllInRoot(ctx.destRoot, path, 0o755, ctx.owner);
    const srcHost = await resolveInRoot(srcRoot, srcBase + rel);
    const st: BigIntStats = await lstat(srcHost, { bigint: true });
    await dirMeta(ctx, host, st, true);
  }
}

/** A heredoc file: 0644 (or `--chmod`), the copy's owner, mtime now. */
async function writeInline(ctx: WriteContext, target: string, content: string): Promise<void> {
  const parent = await mkdirAllInRoot(ctx.destRoot, posix.dirname(target), 0o755, ctx.owner);
  let host = parent + '/' + posix.basename(target);
  const existing = await lstat(host).catch(() => undefined);
  if (existing?.isSymbolicLink()) host = await resolveInRoot(ctx.destRoot, target);
  const mode = ctx.modeFn ? ctx.modeFn(0o644, false) : 0o644;
  await writeFile(host, content, { mode: 0o600 });
  await chownIfNeeded(host, ctx.owner, existing === undefined);
  await chmod(host, mode);
  const now = Date.now() / 1000;
  await utimes(host, now, now);
  ctx.stats.files++;
  ctx.stats.bytes += Buffer.byteLength(content);
}
