import { TbuildError } from '../../errors.js';
import { BLOCK, padding } from './header.js';

/**
 * A streaming tar reader for layer extraction: ustar, GNU (long names, base-256 numbers) and PAX
 * (local and global headers). Our own rather than tar-stream's because PAX values must stay bytes:
 * `SCHILY.xattr.security.capability` is binary, and decoding it as UTF-8 corrupts it.
 */

export interface TarEntryHeader {
  name: string;
  /** The raw typeflag: '0' file, '1' hard link, '2' symlink, '3' char, '4' block, '5' dir, '6' fifo, '7' contiguous. */
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  xattrs: Map<string, Buffer>;
}

export interface TarEntry {
  header: TarEntryHeader;
  /**
   * The entry's data; must be consumed (or is skipped) before the next entry is read. A chunk is
   * valid only until the next is asked for (the source may reuse its memory, see
   * `decompressChunks`); headers and extended headers are copies.
   */
  body: AsyncIterable<Buffer>;
}

function formatError(msg: string): TbuildError {
  return new TbuildError('TB_TAR_FORMAT', `invalid tar: ${msg}`);
}

class ByteReader {
  readonly #it: AsyncIterator<Buffer>;
  #buf: Buffer = Buffer.alloc(0);
  /** Whether `#buf` is memory of ours, or a view of the source's chunk (which it may reuse). */
  #owned = true;
  #done = false;

  constructor(src: AsyncIterable<Buffer>) {
    this.#it = src[Symbol.asyncIterator]();
  }

  /** The source's next chunk (a view it may reuse once asked for another), or undefined at its end. */
  async #next(): Promise<Buffer | undefined> {
    if (this.#done) return undefined;
    const r = await this.#it.next();
    if (r.done) {
      this.#done = true;
      return undefined;
    }
    const c = r.value as Uint8Array;
    return Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
  }

  /**
   * Exactly `n` bytes, or fewer only at the end of the stream: the caller's to keep. Pieces are
   * copied as the source moves on and joined once, so a large extended header costs linear time.
   */
  async read(n: number): Promise<Buffer> {
    if (this.#buf.length < n) {
      const parts: Buffer[] = [];
      let have = 0;
      let current = this.#buf;
      let owned = this.#owned;
      while (have + current.length < n) {
        // (a piece of the source's memory is copied before the source may reuse it)
        if (current.length) parts.push(owned ? current : Buffer.from(current));
        have += current.length;
        current = Buffer.alloc(0);
        owned = true;
        const next = await this.#next();
        if (!next) break;
        current = next;
        owned = false;
      }
      if (current.length || !parts.length) parts.push(owned ? current : Buffer.from(current));
      this.#buf = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      this.#owned = true;
    }
    const head = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(head.length);
    return this.#owned ? head : Buffer.from(head);
  }

  async readExact(n: number, what: string): Promise<Buffer> {
    const b = await this.read(n);
    if (b.length !== n) throw formatError(`unexpected end of archive in ${what}`);
    return b;
  }

  /** Up to `n` bytes as they arrive, without gathering them: each valid until the next is asked for. */
  async *stream(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (!this.#buf.length) {
        const next = await this.#next();
        if (!next) throw formatError('unexpected end of archive in entry data');
        this.#buf = next;
        this.#owned = false;
      }
      const take = this.#buf.subarray(0, Math.min(left, this.#buf.length));
      this.#buf = this.#buf.subarray(take.length);
      left -= take.length;
      yield take;
    }
  }

  /** Everything left (so the caller can hash the whole stream). */
  async drain(): Promise<void> {
    this.#buf = Buffer.alloc(0);
    this.#owned = true;
    while (await this.#next());
  }
}

function cstr(b: Buffer, off: number, len: number): string {
  const field = b.subarray(off, off + len);
  const nul = field.indexOf(0);
  return field.subarray(0, nul === -1 ? len : nul).toString('utf8');
}

function num(b: Buffer, off: number, len: number): number {
  const field = b.subarray(off, off + len);
  if (field[0]! & 0x80) {
    // GNU base-256: big-endian two's complement with the top bit as the marker
    let v = field[0]! & 0x7f;
    for (let i = 1; i < field.length; i++) v = v * 256 + field[i]!;
    return v;
  }
  const s = field.toString('latin1').replace(/\0.*$/s, '').trim();
  if (!s) return 0;
  if (!/^[0-7]+$/.test(s)) throw formatError(`bad numeric field ${JSON.stringify(s)}`);
  return parseInt(s, 8);
}

function checksumOk(b: Buffer): boolean {
  const want = num(b, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : b[i]!;
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  return want === unsigned || want === signed;
}

/** PAX records: "<len> <key>=<value>\n"; values stay bytes. */
export function parsePax(data: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let off = 0;
  while (off < data.length) {
    const sp = data.indexOf(0x20, off);
    if (sp === -1) break;
    const len = parseInt(data.toString('latin1', off, sp), 10);
    if (!Number.isFinite(len) || len <= 0 || off + len > data.length) throw formatError('bad PAX record length');
    const rec = data.subarray(sp + 1, off + len - 1); // without the trailing newline
    const eq = rec.indexOf(0x3d);
    if (eq === -1) throw formatError('PAX record without =');
    out.set(rec.toString('utf8', 0, eq), rec.subarray(eq + 1));
    off += len;
  }
  return out;
}

/** Entries of a tar stream in order. `src` is read to its end, trailing bytes included. */
export async function* readTar(src: AsyncIterable<Buffer>): AsyncGenerator<TarEntry> {
  const r = new ByteReader(src);
  let global = new Map<string, Buffer>();
  let local: Map<string, Buffer> | undefined;
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const block = await r.read(BLOCK);
    if (block.length === 0) break; // tolerate a missing end-of-archive marker
    if (block.length < BLOCK) throw formatError('truncated header');
    if (block.every((x) => x === 0)) break;
    if (!checksumOk(block)) throw formatError('header checksum mismatch');
    const type = String.fromCharCode(block[156]!) === '\0' ? '0' : String.fromCharCode(block[156]!);
    let size = num(block, 124, 12);
    const isUstar = block.toString('latin1', 257, 263) === 'ustar\0';

    if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
      if (size > 64 << 20) throw formatError('extended header too large');
      const data = await r.readExact(size, 'extended header');
      await r.readExact(padding(size), 'padding');
      if (type === 'x') local = new Map([...(local ?? []), ...parsePax(data)]);
      else if (type === 'g') global = new Map([...global, ...parsePax(data)]);
      else if (type === 'L') longName = cstr(data, 0, data.length);
      else longLink = cstr(data, 0, data.length);
      continue;
    }

    const pax = new Map([...global, ...(local ?? [])]);
    local = undefined;
    let name = cstr(block, 0, 100);
    if (isUstar) {
      const prefix = cstr(block, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    if (longName !== undefined) name = longName;
    let linkname = longLink ?? cstr(block, 157, 100);
    longName = longLink = undefined;
    const str = (k: string) => pax.get(k)?.toString('utf8');
    name = str('path') ?? name;
    linkname = str('linkpath') ?? linkname;
    const paxNum = (k: string, dflt: number) => {
      const v = str(k);
      if (v === undefined) return dflt;
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) throw formatError(`bad PAX ${k}=${JSON.stringify(v)}`);
      return n;
    };
    size = paxNum('size', size);
    const xattrs = new Map<string, Buffer>();
    for (const [k, v] of pax) if (k.startsWith('SCHILY.xattr.')) xattrs.set(k.slice('SCHILY.xattr.'.length), v);
    if (!['0', '1', '2', '3', '4', '5', '6', '7'].includes(type)) {
      throw formatError(`unsupported entry type ${JSON.stringify(type)} for ${JSON.stringify(name)}`);
    }
    const header: TarEntryHeader = {
      name,
      type,
      mode: num(block, 100, 8),
      uid: paxNum('uid', num(block, 108, 8)),
      gid: paxNum('gid', num(block, 116, 8)),
      size: type === '0' || type === '7' ? size : 0,
      mtime: Math.floor(paxNum('mtime', num(block, 136, 12))),
      linkname,
      devmajor: num(block, 329, 8),
      devminor: num(block, 337, 8),
      xattrs,
    };
    const dataSize = size;
    let remaining = dataSize;
    const body = (async function* () {
      for await (const c of r.stream(remaining)) {
        remaining -= c.length;
        yield c;
      }
    })();
    yield { header, body };
    await body.return(undefined);
    if (remaining > 0) for await (const _ of r.stream(remaining)); // data the consumer did not read
    await r.readExact(padding(dataSize), 'padding');
  }
  await r.drain();
}
