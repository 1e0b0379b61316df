import { decompressionCheck, guardDecompressed } from '../../util/decompression-limits.js';
import { canGunzipReusing, gunzipReusing } from './gunzip-reusing.js';
import { spawn } from 'node:child_process';
import { createGunzip } from 'node:zlib';
import { Readable, PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TbuildError } from '../../errors.js';

export type Compression = 'none' | 'gzip' | 'zstd' | 'bzip2' | 'xz';

/** Recognize a compression format by its magic bytes. */
export function detectCompression(head: Uint8Array): Compression {
  const b = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
  if (b.length >= 4 && b.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (b.length >= 3 && b.toString('latin1', 0, 3) === 'BZh') return 'bzip2';
  if (b.length >= 6 && b.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  return 'none';
}

/** A view of the same bytes (Buffer.from would copy every chunk). */
function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

const TOOLS: Record<'zstd' | 'bzip2' | 'xz', string> = { zstd: 'zstd', bzip2: 'bzip2', xz: 'xz' };

/** `input`'s compression, from its first bytes, and all of its bytes (those first ones included). */
async function sniff(input: Readable | AsyncIterable<Buffer>, closeInput: boolean): Promise<{ compression: Compression; bytes: AsyncGenerator<Buffer>; compressedBytes: () => number }> {
  const it = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const headParts: Buffer[] = [];
  let headLen = 0;
  let ended = false;
  while (headLen < 6) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    const c = asBuffer(r.value);
    headParts.push(c);
    headLen += c.length;
  }
  const head = Buffer.concat(headParts);
  let compressedBytes = head.length;
  async function* bytes(): AsyncGenerator<Buffer> {
    try {
      if (head.length) yield head;
      if (ended) return;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        compressedBytes += r.value.length;
        yield asBuffer(r.value);
      }
    } finally {
      // a consumer that stops early closes the input (a stream is destroyed)
      if (closeInput && !ended) await it.return?.();
    }
  }
  return { compression: detectCompression(head), bytes: bytes(), compressedBytes: () => compressedBytes };
}

/**
 * The uncompressed bytes of `input`, whatever of plain, gzip, zstd, bzip2 or xz it is (by magic
 * bytes). gzip is decoded in-process; the others by their Debian tools as child processes (`-dc`).
 */
export async function decompress(input: Readable, what = 'layer'): Promise<{ stream: Readable; compression: Compression }> {
  const { compression, bytes, compressedBytes } = await sniff(input, false);
  return { stream: decoded(compression, Readable.from(bytes, { objectMode: false }), compressedBytes, what), compression };
}

function decoded(compression: Compression, source: Readable, compressedBytes: () => number, what: string): Readable {
  if (compression === 'none') return source;
  if (compression === 'gzip') {
    const gunzip = createGunzip({ chunkSize: 256 * 1024 });
    const out = new PassThrough();
    pipeline(source, gunzip, out).catch((err: Error) =>
      out.destroy(new TbuildError('TB_TAR_FORMAT', `gzip stream is corrupt: ${err.message}`, { cause: err })),
    );
    return guardDecompressed(out, compressedBytes, what, compression);
  }
  return guardDecompressed(throughTool(TOOLS[compression], source), compressedBytes, what, compression);
}

/**
 * `decompress` for a consumer that is done with each chunk before it asks for the next (a layer's
 * extraction writes and hashes it at once): gzip is inflated through one reused buffer
 * (`gunzipReusing`), so a chunk is valid only until the next is asked for. Returning the
 * iterator early closes `input`.
 */
export async function decompressChunks(input: Readable | AsyncIterable<Buffer>, what = 'layer'): Promise<{ chunks: AsyncGenerator<Buffer>; compression: Compression }> {
  const { compression, bytes, compressedBytes } = await sniff(input, true);
  if (compression === 'none') return { chunks: bytes, compression };
  if (compression === 'gzip' && canGunzipReusing()) return { chunks: gunzipReusing(bytes, decompressionCheck(what, compression)), compression };
  const stream = decoded(compression, Readable.from(bytes, { objectMode: false }), compressedBytes, what);
  return { chunks: stream[Symbol.asyncIterator]() as AsyncGenerator<Buffer>, compression };
}

function throughTool(tool: string, source: Readable): Readable {
  const child = spawn(tool, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out = new PassThrough();
  const err: Buffer[] = [];
  child.stderr.on('data', (c: Buffer) => err.push(c));
  child.stdin.on('error', () => {}); // the exit status reports it
  source.pipe(child.stdin);
  source.on('error', (e) => {
    child.kill();
    out.destroy(e);
  });
  child.stdout.pipe(out, { end: false });
  let exited: number | null | undefined;
  let stdoutDone = false;
  const finish = () => {
    if (exited === undefined || !stdoutDone) return;
    if (exited === 0) out.end();
    else out.destroy(new TbuildError('TB_TAR_FORMAT', `${tool} -dc failed (${exited}): ${Buffer.concat(err).toString().trim()}`));
  };
  child.stdout.on('end', () => {
    stdoutDone = true;
    finish();
  });
  child.on('error', (e) => out.destroy(new TbuildError('TB_INTERNAL', `cannot run ${tool}: ${e.message}`, { cause: e })));
  child.on('close', (code) => {
    exited = code;
    stdoutDone = true;
    finish();
  });
  // If the consumer gives up, stop the child.
  out.on('close', () => {
    if (exited === undefined) child.kill();
    source.destroy();
  });
  return out;
}
