import type { BigIntStats } from 'node:fs';

/**
 * The bytes of small source files read while checksumming, so the COPY that follows (which reads
 * exactly the files that were hashed) does not open and read each one again. An entry is used
 * only for the same file in the same state: device, inode, size, mtime and ctime all equal (any
 * write changes ctime). Files changed too recently to trust their timestamps are never kept, as in
 * the stat cache. Bounded in total size; oldest entries go first.
 */

/** Only files up to this size are kept. */
export const CONTENT_CACHE_MAX_FILE = 64 << 10;
const MAX_TOTAL = 32 << 20;
/** As the stat cache's window: a file changed more recently could change again unseen. */
const RACY_NS = 100_000_000n;

interface Entry {
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  data: Buffer;
}

const entries = new Map<string, Entry>();
let total = 0;

const keyOf = (st: BigIntStats): string => `${st.dev}:${st.ino}`;

/** Remember `data` as the content of the file `st` describes (when it is worth keeping). */
export function rememberContent(st: BigIntStats, data: Buffer): void {
  if (data.length > CONTENT_CACHE_MAX_FILE || BigInt(data.length) !== st.size) return;
  const now = BigInt(Date.now()) * 1_000_000n;
  if (now - st.mtimeNs <= RACY_NS || now - st.ctimeNs <= RACY_NS) return;
  const key = keyOf(st);
  drop(key);
  entries.set(key, { size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs, data });
  total += data.length;
  while (total > MAX_TOTAL) {
    const oldest = entries.keys().next();
    if (oldest.done) break;
    drop(oldest.value);
  }
}

/** The remembered content of the file `st` describes, if it is unchanged since. */
export function cachedContent(st: BigIntStats): Buffer | undefined {
  const e = entries.get(keyOf(st));
  if (!e) return undefined;
  if (e.size !== st.size || e.mtimeNs !== st.mtimeNs || e.ctimeNs !== st.ctimeNs) {
    drop(keyOf(st));
    return undefined;
  }
  return e.data;
}

/** Forget everything (a build is over; tests). */
export function clearContentCache(): void {
  entries.clear();
  total = 0;
}

function drop(key: string): void {
  const e = entries.get(key);
  if (!e) return;
  entries.delete(key);
  total -= e.data.length;
}
