import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { readlink } from 'node:fs/promises';
import type { Digest } from '../util/digest.js';
import { selectSource, walkSelection } from '../worker/file/select.js';
import { compilePatterns } from './ignore.js';
import { hashFileContent } from './stat-cache.js';
import type { ChecksumOptions, SourceTree } from './types.js';

/** Files hashed at once: enough to keep the thread pool busy, few enough not to flood it. */
const HASH_CONCURRENCY = 16;

interface Row {
  path: string;
  type: string;
  mode: number;
  link: string;
  host?: string;
  st?: BigIntStats;
  content: string;
}

function typeOf(st: BigIntStats): string {
  if (st.isFile()) return 'f';
  if (st.isDirectory()) return 'd';
  if (st.isSymbolicLink()) return 'l';
  if (st.isFIFO()) return 'p';
  if (st.isCharacterDevice()) return 'c';
  if (st.isBlockDevice()) return 'b';
  return 's';
}

/** Permission bits with setuid/setgid/sticky: what COPY preserves. */
function permOf(st: BigIntStats): number {
  return Number(st.mode & 0o7777n);
}

async function row(path: string, host: string, st: BigIntStats): Promise<Row> {
  const r: Row = { path, type: typeOf(st), mode: permOf(st), link: '', content: '' };
  if (st.isSymbolicLink()) r.link = await readlink(host);
  else if (st.isFile()) {
    r.host = host;
    r.st = st;
  } else if (st.isCharacterDevice() || st.isBlockDevice()) r.link = st.rdev.toString();
  return r;
}

/**
 * Content checksum of what a COPY/ADD reads (see `ChecksumSources` in ./types.ts): one record per
 * selected entry — path, type, permission bits, link target, content sha256 — in selection order.
 */
export async function checksumSources(tree: SourceTree, sources: string[], opts: ChecksumOptions = {}): Promise<Digest> {
  const excludes = opts.excludes?.length ? compilePatterns(opts.excludes) : undefined;
  const rows: Row[] = [];
  for (const [i, word] of sources.entries()) {
    opts.signal?.throwIfAborted();
    rows.push({ path: `#${i}`, type: 'source', mode: 0, link: '', content: '' });
    const matches = await selectSource(tree.dir, word, { ignore: tree.ignore, parents: opts.parents });
    for (const sel of matches) {
      if (sel.excludeName !== undefined && excludes?.matches(sel.excludeName)) continue;
      const top = sel.keep ?? sel.name;
      rows.push(await row(top, sel.host, sel.st));
      if (!sel.st.isDirectory()) continue;
      for (const e of await walkSelection(sel, { ignore: tree.ignore, excludes })) {
        rows.push(await row(top ? top + '/' + e.rel : e.rel, e.host, e.st));
      }
    }
  }
  await hashContents(tree, rows, opts.signal);
  const h = createHash('sha256');
  for (const r of rows) h.update(JSON.stringify([r.path, r.type, r.mode, r.link, r.content]) + '\n');
  return `sha256:${h.digest('hex')}` as Digest;
}

async function hashContents(tree: SourceTree, rows: Row[], signal?: AbortSignal): Promise<void> {
  const files = rows.filter((r) => r.host !== undefined);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      signal?.throwIfAborted();
      const r = files[next++]!;
      r.content = tree.statCache
        ? await tree.statCache.hashFile(r.host!, r.st!)
        : await hashFileContent(r.host!, r.st!.size, r.st);
    }
  };
  await Promise.all(Array.from({ length: Math.min(HASH_CONCURRENCY, files.length) }, worker));
}
