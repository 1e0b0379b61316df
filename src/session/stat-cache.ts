import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, openSync, readSync, type BigIntStats } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import type { StatCache, StatCacheStats } from './types.js';
import { rememberContent } from './content-cache.js';

/** [size, mtime ns, ctime ns, inode, sha256 hex] */
type Entry = [string, string, string, string, string];

interface FileShape {
  version: 1;
  dir: string;
  entries: Record<string, Entry>;
}

/** Files smaller than this are read in one call; larger ones are streamed. */
const SMALL = 1 << 20;
/**
 * A file changed this recently could change again within the same (coarse, one-jiffy) timestamp
 * tick without its stat changing: remember its hash only once it has been quiet this long.
 */
const RACY_NS = 100_000_000n;

/** Below this, a file is read synchronously: cheaper than a thread-pool round trip per call. */
const TINY = 64n * 1024n;
let sinceYield = 0;
const SCRATCH = Buffer.allocUnsafe(Number(TINY) + 1);

/**
 * sha256 of a small file in as few calls as it takes: open, one read of one byte more than the
 * size (a short read of a regular file is its end), close. Reads on to the end if it grew.
 */
function hashSmallSync(path: string, size: number, st?: BigIntStats): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  let whole: Buffer | undefined;
  try {
    let want = Math.min(size + 1, SCRATCH.length);
    for (let first = true; ; first = false) {
      const n = readSync(fd, SCRATCH, 0, want, null);
      if (n > 0) h.update(SCRATCH.subarray(0, n));
      if (n < want) {
        if (first && n === size) whole = SCRATCH.subarray(0, n);
        break;
      }
      want = SCRATCH.length;
    }
  } finally {
    closeSync(fd);
  }
  // The COPY after this checksum reads the same files: keep their bytes for it.
  if (st && whole) rememberContent(st, Buffer.from(whole));
  return h.digest('hex');
}

/** sha256 hex of a file's content. With `st` (its lstat), a small file's bytes are kept for a COPY. */
export async function hashFileContent(path: string, size: bigint, st?: BigIntStats): Promise<string> {
  if (size < TINY) {
    // Yield now and then so a tree of thousands of small files does not hold the event loop.
    if (++sinceYield >= 256) {
      sinceYield = 0;
      await new Promise<void>((r) => setImmediate(r));
    }
    return hashSmallSync(path, Number(size), st);
  }
  if (size < BigInt(SMALL)) return createHash('sha256').update(await readFile(path)).digest('hex');
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Where the stat cache of context directory `dir` lives under state root `root`. */
export function statCachePath(root: string, dir: string): string {
  const id = createHash('sha256').update(dir).digest('hex').slice(0, 32);
  return join(root, 'cache', 'stat', `${id}.json`);
}

/**
 * Persistent stat cache for one directory tree: a file whose (size, mtime, ctime, inode) is unchanged
 * since it was hashed is not read again. Keyed by the path relative to `dir`.
 */
export class DirStatCache implements StatCache {
  readonly stats: StatCacheStats = { hits: 0, misses: 0 };
  readonly #dir: string;
  readonly #file: string | undefined;
  readonly #settled: boolean;
  #entries: Map<string, Entry>;
  #dirty = false;

  private constructor(dir: string, file: string | undefined, entries: Map<string, Entry>, settled: boolean) {
    this.#dir = dir;
    this.#file = file;
    this.#entries = entries;
    this.#settled = settled;
  }

  /**
   * Load the cache of `dir` from `file` (a missing or unreadable file starts empty); no file = memory
   * only. `settled`: nothing writes the tree any more, so a file just written is remembered at once.
   */
  static async open(dir: string, file?: string, opts: { settled?: boolean } = {}): Promise<DirStatCache> {
    const entries = new Map<string, Entry>();
    if (file) {
      try {
        const data = JSON.parse(await readFile(file, 'utf8')) as FileShape;
        if (data.version === 1 && data.dir === dir) for (const [k, v] of Object.entries(data.entries)) entries.set(k, v);
      } catch {
        // absent or corrupt: a cache, so start over
      }
    }
    return new DirStatCache(dir, file, entries, opts.settled ?? false);
  }

  async hashFile(path: string, st: BigIntStats): Promise<string> {
    const rel = relative(this.#dir, path);
    const inside = rel !== '' && !rel.startsWith('..');
    const size = st.size.toString();
    const mtime = st.mtimeNs.toString();
    const ctime = st.ctimeNs.toString();
    const ino = st.ino.toString();
    if (inside) {
      const e = this.#entries.get(rel);
      if (e && e[0] === size && e[1] === mtime && e[2] === ctime && e[3] === ino) {
        this.stats.hits++;
        return e[4];
      }
    }
    this.stats.misses++;
    const hex = await hashFileContent(path, st.size, st);
    if (inside) {
      const now = BigInt(Date.now()) * 1_000_000n;
      if (this.#settled || (now - st.mtimeNs > RACY_NS && now - st.ctimeNs > RACY_NS)) {
        this.#entries.set(rel, [size, mtime, ctime, ino, hex]);
        this.#dirty = true;
      } else if (this.#entries.delete(rel)) {
        this.#dirty = true;
      }
    }
    return hex;
  }

  async save(): Promise<void> {
    if (!this.#file || !this.#dirty) return;
    const data: FileShape = { version: 1, dir: this.#dir, entries: Object.fromEntries(this.#entries) };
    // Atomic (never a torn file) but not synced: a cache lost in a crash is rebuilt, so no
    // build should wait for the disk to flush it.
    await mkdir(dirname(this.#file), { recursive: true });
    const tmp = join(dirname(this.#file), `.${basename(this.#file)}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await writeFile(tmp, JSON.stringify(data));
      await rename(tmp, this.#file);
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw err;
    }
    this.#dirty = false;
    await pruneStatCaches(dirname(this.#file));
  }
}

/** Stat caches kept per state root: one per context directory, so short-lived contexts would pile up. */
const KEEP = 100;

/** Remove all but the `KEEP` most recently written stat caches in `dir`. */
export async function pruneStatCaches(dir: string, keep = KEEP): Promise<number> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.json'));
  if (names.length <= keep + keep / 4) return 0;
  const withTimes = await Promise.all(
    names.map(async (n) => ({ n, t: (await stat(join(dir, n)).catch(() => undefined))?.mtimeMs ?? 0 })),
  );
  withTimes.sort((a, b) => b.t - a.t);
  const drop = withTimes.slice(keep);
  await Promise.all(drop.map((d) => rm(join(dir, d.n), { force: true })));
  return drop.length;
}
