import { lstatSync, readdirSync } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { posix, relative } from 'node:path';
import { TbuildError } from '../../errors.js';
import { resolveInRoot } from '../../util/confine.js';
import type { IgnoreMatcher } from '../../session/types.js';
import { hasWildcard, matchComponent, unescapeComponent } from './match.js';

/**
 * Which entries of a source tree one COPY/ADD source word selects. Shared by the copy itself and
 * by the cache-key checksum, so what is hashed is exactly what is copied.
 */

/** One top-level match of a source word. */
export interface Selected {
  /** The source word as written (for messages). */
  word: string;
  /** Tree-relative path of the match as named (a top-level symlink keeps its own name); '' = root. */
  name: string;
  /** Host path after following symlinks inside the tree. */
  host: string;
  /** `host` relative to the tree root: where `.dockerignore` looks below this match. */
  followedRel: string;
  st: BigIntStats;
  /** `--parents`: the path to recreate under the destination ('' = the pivot itself). */
  keep?: string;
  /** The path `--exclude` patterns see for the match itself; undefined = never excluded itself. */
  excludeName?: string;
}

/** One entry below a selected directory, in pre-order (a directory before its contents). */
export interface WalkEntry {
  /** Path relative to the selected directory (`sub/f`). */
  rel: string;
  host: string;
  st: BigIntStats;
}

export interface SelectOptions {
  ignore?: IgnoreMatcher;
  parents?: boolean;
}

/** BuildKit's message for a missing source, which names the source as the tree root sees it. */
export function notFound(name: string, word?: string): TbuildError {
  return new TbuildError(
    'TB_COPY_SOURCE_NOT_FOUND',
    `failed to calculate checksum of ref: ${JSON.stringify('/' + name)}: not found`,
    { details: { source: word ?? name } },
  );
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/** `../x` → `x`, `./a//b/` → `a/b`, `.` → '' (the tree root). */
export function cleanSourcePath(word: string): string {
  return posix.normalize('/' + word).replace(/^\/+/, '').replace(/\/+$/, '');
}

/** Resolve one source word to its matches. A literal that does not exist → TB_COPY_SOURCE_NOT_FOUND. */
export async function selectSource(root: string, word: string, opts: SelectOptions = {}): Promise<Selected[]> {
  let pivot = '';
  let pattern = word;
  if (opts.parents) {
    const cut = word.indexOf('/./');
    if (cut >= 0) {
      pivot = cleanSourcePath(word.slice(0, cut));
      pattern = word.slice(0, cut) + '/' + word.slice(cut + 3);
    }
  }
  const clean = cleanSourcePath(pattern);
  const comps = clean === '' ? [] : clean.split('/');
  const wild = comps.some(hasWildcard);
  const ignore = opts.ignore;

  let names: string[] = [''];
  for (const comp of comps) {
    if (!hasWildcard(comp)) {
      const lit = unescapeComponent(comp);
      names = names.map((p) => (p ? p + '/' + lit : lit));
      continue;
    }
    const next: string[] = [];
    for (const prefix of names) {
      const hostDir = await resolveInRoot(root, prefix);
      let entries: string[];
      try {
        entries = await readdir(hostDir);
      } catch (err) {
        if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') {
          // A missing directory before a wildcard is an error (BuildKit: lstat … not found).
          if (names.length === 1) throw notFound(prefix, word);
          continue;
        }
        throw err;
      }
      entries.sort();
      const rel = relative(root, hostDir);
      for (const e of entries) {
        if (!matchComponent(comp, e)) continue;
        const name = prefix ? prefix + '/' + e : e;
        const actual = rel ? rel + '/' + e : e;
        if (ignore && ignore.matches(actual) && ignore.canSkipDir(actual)) continue;
        next.push(name);
      }
    }
    names = next;
  }

  const out: Selected[] = [];
  for (const name of names) {
    const host = await resolveInRoot(root, name);
    let st: BigIntStats;
    try {
      st = await lstat(host, { bigint: true });
    } catch (err) {
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') throw notFound(name, word);
      throw err;
    }
    const followedRel = relative(root, host);
    if (ignore && name !== '' && (isIgnored(ignore, name, st) || isIgnored(ignore, followedRel, st))) {
      if (wild) continue;
      throw notFound(name, word);
    }
    const sel: Selected = { word, name, host, followedRel, st };
    if (opts.parents) sel.keep = pivot === '' ? name : posix.relative(pivot, name);
    if (wild) sel.excludeName = posix.basename(name);
    out.push(sel);
  }
  return out;
}

/** An ignored directory still exists when an exception re-includes something below it. */
function isIgnored(ignore: IgnoreMatcher, rel: string, st: BigIntStats): boolean {
  if (rel === '' || !ignore.matches(rel)) return false;
  return !st.isDirectory() || ignore.canSkipDir(rel);
}

export interface WalkOptions {
  ignore?: IgnoreMatcher;
  excludes?: IgnoreMatcher;
}

/**
 * Everything below a selected directory that is neither ignored (by its real tree path) nor
 * excluded (by its path relative to the selection), sorted by name, parents first. A directory
 * that is itself ignored/excluded is kept only when an exception re-includes something inside it.
 */
export async function walkSelection(sel: Selected, opts: WalkOptions = {}): Promise<WalkEntry[]> {
  const out: WalkEntry[] = [];
  await walkDir(sel.host, sel.followedRel, '', opts, out);
  return out;
}

/**
 * Synchronous stat calls, one directory at a time with a yield between directories: for trees of
 * small files a thread-pool round trip per lstat costs several times the call itself.
 */
async function walkDir(host: string, treeRel: string, rel: string, opts: WalkOptions, out: WalkEntry[]): Promise<void> {
  await new Promise<void>((r) => setImmediate(r));
  const names = readdirSync(host).sort();
  for (let i = 0; i < names.length; i++) {
    const n = names[i]!;
    const st = lstatSync(host + '/' + n, { bigint: true });
    const childHost = host + '/' + n;
    const childTree = treeRel ? treeRel + '/' + n : n;
    const childRel = rel ? rel + '/' + n : n;
    const ignored = opts.ignore?.matches(childTree) ?? false;
    const excluded = opts.excludes?.matches(childRel) ?? false;
    if (!st.isDirectory()) {
      if (!ignored && !excluded) out.push({ rel: childRel, host: childHost, st });
      continue;
    }
    if ((ignored && opts.ignore!.canSkipDir(childTree)) || (excluded && opts.excludes!.canSkipDir(childRel))) continue;
    const at = out.length;
    out.push({ rel: childRel, host: childHost, st });
    await walkDir(childHost, childTree, childRel, opts, out);
    // Kept only for what an exception re-includes below it.
    if ((ignored || excluded) && out.length === at + 1) out.pop();
  }
}
