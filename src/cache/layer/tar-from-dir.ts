import { open } from 'node:fs/promises';
import { closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { TbuildError } from '../../errors.js';
import { scanXattrs, type XattrMap } from '../fsops.js';
import { OPAQUE_XATTR } from '../flatten.js';
import { BLOCK, encodeHeader, padding, type TarHeader } from './header.js';
import type { LayerTarOptions } from '../types.js';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';
const CHUNK = 1 << 20;
// The hashing path reuses two buffers, so bigger reads cost no garbage and fewer round trips.
const REUSE_CHUNK = 4 << 20;
const ZEROS = Buffer.alloc(BLOCK * 2);
const SMALL_FILE = 64 << 10;
/** Size of the staging buffer that gathers headers and small files into one chunk. */
const STAGE = 1 << 20;

function readSmall(path: string, out: Buffer, off: number, size: number): void {
  const fd = openSync(path, 'r');
  try {
    let got = 0;
    while (got < size) {
      const n = readSync(fd, out, off + got, size - got, got);
      if (n === 0) throw new TbuildError('TB_INTERNAL', `${path} shrank while it was being archived`);
      got += n;
    }
  } finally {
    closeSync(fd);
  }
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

export function devNumbers(rdev: number): { major: number; minor: number } {
  return { major: (rdev >>> 8) & 0xfff, minor: (rdev & 0xff) | ((rdev >>> 12) & 0xfff00) };
}

/**
 * The bytes of the OCI layer tar of overlay upperdir `dir`, in order. Entries are walked depth
 * first with each directory's names in byte order (parents before children). With `reuse`, file
 * data is yielded from two recycled buffers, each valid only until the consumer asks for the next
 * chunk: the hashing path consumes synchronously, and so copies nothing.
 */
export async function* layerTarChunks(dir: string, opts: LayerTarOptions = {}, reuse = false): AsyncGenerator<Buffer> {
  const xattrs = await scanXattrs(dir);
  const links = new Map<string, string>();
  const clamp = (st: Stats): number => {
    const t = Math.floor(st.mtimeMs / 1000);
    return opts.sourceDateEpoch !== undefined && t > opts.sourceDateEpoch ? opts.sourceDateEpoch : Math.max(0, t);
  };
  const bufs = reuse ? [Buffer.allocUnsafe(REUSE_CHUNK), Buffer.allocUnsafe(REUSE_CHUNK)] : [];

  async function* fileData(path: string, size: number): AsyncGenerator<Buffer> {
    const fh = await open(path, 'r');
    try {
      let pos = 0;
      let turn = 0;
      const readAt = (at: number) => {
        const buf = reuse ? bufs[turn++ & 1]! : Buffer.allocUnsafe(Math.min(CHUNK, size - at));
        return fh.read(buf, 0, Math.min(buf.length, size - at), at).then(({ bytesRead }) => buf.subarray(0, bytesRead));
      };
      // one read in flight while the previous chunk is consumed
      let next = size > 0 ? readAt(0) : undefined;
      while (next) {
        const chunk = await next;
        if (chunk.length === 0) throw new TbuildError('TB_INTERNAL', `${path} shrank while it was being archived`);
        pos += chunk.length;
        next = pos < size ? readAt(pos) : undefined;
        yield chunk;
      }
    } finally {
      await fh.close();
    }
  }

  // Headers and small files are gathered into one staging buffer and handed out a megabyte at
  // a time: one chunk per entry costs more in generator round trips, hash calls and garbage than
  // the tiny reads themselves. With `reuse`, two staging buffers alternate (a chunk is only valid
  // until the next is asked for); otherwise every chunk handed out is a buffer of its own.
  const stages = reuse ? [Buffer.allocUnsafe(STAGE), Buffer.allocUnsafe(STAGE)] : [];
  let turn = 0;
  let stage = reuse ? stages[0]! : Buffer.allocUnsafe(STAGE);
  let used = 0;
  /** The staged bytes, and an empty staging buffer in place for what comes next. */
  const take = (): Buffer => {
    const out = stage.subarray(0, used);
    stage = reuse ? stages[++turn & 1]! : Buffer.allocUnsafe(STAGE);
    used = 0;
    return out;
  };
  const put = (b: Buffer): void => {
    b.copy(stage, used);
    used += b.length;
  };

  // Metadata calls are synchronous: thousands of small lstat/readdir calls through the thread
  // pool cost far more in hops than the calls themselves. Small files are read synchronously too;
  // the loop yields to the event loop every few hundred entries so a daemon stays responsive.
  const readdirSorted = (p: string) => readdirSync(p).sort(byteOrder);
  const stack: { rel: string; names: string[]; i: number }[] = [{ rel: '', names: readdirSorted(dir), i: 0 }];
  let count = 0;
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    if (top.i >= top.names.length) {
      stack.pop();
      continue;
    }
    if (++count % 256 === 0) await new Promise((r) => setImmediate(r));
    const name = top.names[top.i++]!;
    const rel = top.rel;
    const r = rel ? `${rel}/${name}` : name;
    const path = join(dir, r);
    const st = lstatSync(path);
    const own = filterXattrs(xattrs, r);
    const base: Omit<TarHeader, 'type' | 'name'> = {
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      size: 0,
      mtime: clamp(st),
      ...(own ? { xattrs: own } : {}),
    };
    let header: Buffer | undefined;
    if (st.isCharacterDevice() && st.rdev === 0) {
      const wh = rel ? `${rel}/${WHITEOUT_PREFIX}${name}` : `${WHITEOUT_PREFIX}${name}`;
      header = encodeHeader({ name: wh, type: '0', mode: 0, uid: 0, gid: 0, size: 0, mtime: clamp(st) });
    } else if (st.isDirectory()) {
      header = encodeHeader({ ...base, name: `${r}/`, type: '5' });
      if (xattrs.get(r)?.get(OPAQUE_XATTR)?.toString() === 'y') {
        const marker = encodeHeader({ name: `${r}/${OPAQUE_MARKER}`, type: '0', mode: 0, uid: 0, gid: 0, size: 0, mtime: clamp(st) });
        header = Buffer.concat([header, marker]);
      }
      stack.push({ rel: r, names: readdirSorted(path), i: 0 });
    } else if (st.isFile()) {
      const key = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? links.get(key) : undefined;
      if (first !== undefined) {
        header = encodeHeader({ ...base, name: r, type: '1', linkname: first });
      } else {
        if (st.nlink > 1) links.set(key, r);
        const fileHeader = encodeHeader({ ...base, name: r, type: '0', size: st.size });
        const pad = padding(st.size);
        if (st.size <= SMALL_FILE && fileHeader.length + st.size + pad <= STAGE) {
          // header, data and padding straight into the staging buffer
          if (used + fileHeader.length + st.size + pad > STAGE) yield take();
          put(fileHeader);
          readSmall(path, stage, used, st.size);
          used += st.size;
          stage.fill(0, used, used + pad);
          used += pad;
          continue;
        }
        if (used) yield take();
        yield fileHeader;
        yield* fileData(path, st.size);
        if (pad) yield ZEROS.subarray(0, pad);
        continue;
      }
    } else if (st.isSymbolicLink()) {
      header = encodeHeader({ ...base, name: r, type: '2', linkname: readlinkSync(path) });
    } else if (st.isCharacterDevice() || st.isBlockDevice()) {
      const { major, minor } = devNumbers(st.rdev);
      header = encodeHeader({ ...base, name: r, type: st.isCharacterDevice() ? '3' : '4', devmajor: major, devminor: minor });
    } else if (st.isFIFO()) {
      header = encodeHeader({ ...base, name: r, type: '6' });
    }
    // sockets cannot be archived; tar tools skip them too
    if (!header) continue;
    if (used && used + header.length > STAGE) yield take();
    if (header.length > STAGE) yield header;
    else put(header);
  }
  if (used + ZEROS.length > STAGE) yield take();
  put(ZEROS);
  yield take();
}

function filterXattrs(all: XattrMap, rel: string): Map<string, Buffer> | undefined {
  const xs = all.get(rel);
  if (!xs) return undefined;
  const out = new Map<string, Buffer>();
  for (const [k, v] of xs) if (!k.startsWith('trusted.overlay.')) out.set(k, v);
  return out.size ? out : undefined;
}
