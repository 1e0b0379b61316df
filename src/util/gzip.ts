import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';

/** zlib's default level, as Docker and BuildKit use for layers. */
const LEVEL = 6;
const BLOCK = 1 << 20;
/** Bits per byte above which a block is treated as already compressed (random data is ~7.998). */
const INCOMPRESSIBLE_BITS = 7.95;
const MAX_STORED = 65535;

/** Shannon entropy (bits per byte) of a sample of the block: cheap, and decisive for random or compressed data. */
function entropy(block: Buffer): number {
  const counts = new Uint32Array(256);
  const step = Math.max(1, Math.floor(block.length / 65536));
  let n = 0;
  for (let i = 0; i < block.length; i += step) {
    counts[block[i]!]!++;
    n++;
  }
  let bits = 0;
  for (const c of counts) {
    if (!c) continue;
    const p = c / n;
    bits -= p * Math.log2(p);
  }
  return bits;
}

let table: Uint32Array | undefined;
/** zlib.crc32 where node has it (20.15+), a table otherwise. */
function crc32(data: Buffer, prev: number): number {
  const native = (zlib as unknown as { crc32?: (d: Buffer, v: number) => number }).crc32;
  if (native) return native(data, prev);
  if (!table) {
    table = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[i] = c >>> 0;
    }
  }
  let c = ~prev >>> 0;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/**
 * Deflate stored blocks (not final) for `data`, as each block's 5-byte header and a view of its
 * bytes (copying them into one buffer would cost a fresh megabyte per block); the stream is
 * byte-aligned before and after.
 */
function* stored(data: Buffer): Generator<Buffer> {
  for (let i = 0; i < data.length; i += MAX_STORED) {
    const piece = data.subarray(i, i + MAX_STORED);
    const head = Buffer.allocUnsafe(5);
    head[0] = 0; // BFINAL=0, BTYPE=00, padding
    head.writeUInt16LE(piece.length, 1);
    head.writeUInt16LE(~piece.length & 0xffff, 3);
    yield head;
    yield piece;
  }
}

/** Deflate `data` on its own, ended with a sync flush (byte-aligned, not final), off the main thread. */
function deflated(data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    zlib.deflateRaw(data, { level: LEVEL, finishFlush: zlib.constants.Z_SYNC_FLUSH }, (err, out) => (err ? reject(err) : resolve(out))),
  );
}

/**
 * `input` in blocks of BLOCK bytes (the last one shorter). A block inside one chunk is a view of
 * it (a stream's chunks are never reused); only a block across chunks is gathered into a copy.
 */
async function* blocks(input: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const pending: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    pending.push(chunk);
    size += chunk.length;
    while (size >= BLOCK) {
      const first = pending[0]!;
      if (first.length >= BLOCK) {
        yield first.subarray(0, BLOCK);
        if (first.length === BLOCK) pending.shift();
        else pending[0] = first.subarray(BLOCK);
      } else {
        const block = Buffer.allocUnsafe(BLOCK);
        for (let filled = 0; filled < BLOCK; ) {
          const piece = pending[0]!;
          const take = Math.min(piece.length, BLOCK - filled);
          piece.copy(block, filled, 0, take);
          filled += take;
          if (take === piece.length) pending.shift();
          else pending[0] = piece.subarray(take);
        }
        yield block;
      }
      size -= BLOCK;
    }
  }
  if (size) yield pending.length === 1 ? pending[0]! : Buffer.concat(pending, size);
}

/**
 * gzip a layer the way it is pushed: one gzip member whose deflate stream is made block by block
 * (1 MiB each, compressed independently at the default level), except blocks whose bytes look
 * already compressed (high entropy: random data, archives, media), which are stored as they are.
 * zlib spends most of its time failing to shrink such blocks (~45 MB/s); storing them runs at
 * copy speed and gives the same size. The same input always gives the same bytes.
 */
export function layerGzip(input: Readable, onInput?: (bytes: number) => void): Readable {
  async function* gzip(): AsyncGenerator<Buffer> {
    // magic, deflate, no flags, mtime 0, no extra flags, OS unknown (as Go's gzip writes)
    yield Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    let crc = 0;
    let size = 0;
    for await (const block of blocks(input)) {
      onInput?.(block.length);
      crc = crc32(block, crc);
      size = (size + block.length) >>> 0;
      if (entropy(block) > INCOMPRESSIBLE_BITS) yield* stored(block);
      else yield await deflated(block);
    }
    const end = Buffer.alloc(13);
    // the final block: empty, stored
    end.set([1, 0, 0, 0xff, 0xff], 0);
    end.writeUInt32LE(crc >>> 0, 5);
    end.writeUInt32LE(size, 9);
    yield end;
  }
  return Readable.from(gzip(), { objectMode: false });
}
