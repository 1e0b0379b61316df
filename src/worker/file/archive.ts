import { ByteCounter, guardDecompressed } from '../../util/decompression-limits.js';
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { TbuildError } from '../../errors.js';

/** Archive compression, recognised by magic bytes (never by file name). */
export type Compression = 'none' | 'gzip' | 'bzip2' | 'xz' | 'zstd';

export function detectCompression(head: Uint8Array): Compression {
  const b = (i: number) => head[i];
  if (b(0) === 0x1f && b(1) === 0x8b) return 'gzip';
  if (b(0) === 0x42 && b(1) === 0x5a && b(2) === 0x68) return 'bzip2';
  if (b(0) === 0xfd && b(1) === 0x37 && b(2) === 0x7a && b(3) === 0x58 && b(4) === 0x5a && b(5) === 0x00) return 'xz';
  if (b(0) === 0x28 && b(1) === 0xb5 && b(2) === 0x2f && b(3) === 0xfd) return 'zstd';
  return 'none';
}

/** True when `block` (512 bytes) is a tar header with a valid checksum (ustar, gnu or v7). */
export function isTarHeader(block: Uint8Array): boolean {
  if (block.length < 512) return false;
  const field = Buffer.from(block.subarray(148, 156)).toString('latin1').replace(/[\0 ]+$/g, '').trim();
  if (!/^[0-7]+$/.test(field)) return false;
  const want = parseInt(field, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const v = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += v;
    signed += v > 127 ? v - 256 : v;
  }
  return want === unsigned || want === signed;
}

const TOOLS: Record<Exclude<Compression, 'none' | 'gzip'>, string> = { bzip2: 'bzip2', xz: 'xz', zstd: 'zstd' };

/**
 * Decompressed view of `input`. gzip runs in-process; bzip2, xz and zstd have no library here, so
 * one child process (`<tool> -dc`) per archive does it. A corrupt stream errors with TB_TAR_FORMAT.
 * Destroying the returned stream stops the child.
 */
export function decompress(input: Readable, kind: Compression, what = 'archive'): Readable {
  if (kind === 'none') return input;
  const counter = new ByteCounter();
  input.on('error', (err) => counter.destroy(err));
  const counted = input.pipe(counter);
  return guardDecompressed(decodeWith(counted, kind), () => counter.bytes, what, kind);
}

function decodeWith(input: Readable, kind: Exclude<Compression, 'none'>): Readable {
  if (kind === 'gzip') {
    const gunzip = createGunzip();
    input.on('error', (err) => gunzip.destroy(err));
    return input.pipe(gunzip).on('error', () => {});
  }
  const tool = TOOLS[kind];
  const child = spawn(tool, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out = child.stdout;
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 4096) stderr += d.toString();
  });
  child.stdin.on('error', () => {}); // EPIPE when the consumer stops early
  input.on('error', (err) => out.destroy(err));
  input.pipe(child.stdin);
  child.on('error', (err) => out.destroy(new TbuildError('TB_TAR_FORMAT', `${tool}: ${err.message}`, { cause: err })));
  child.on('close', (code, sig) => {
    if (code !== 0 && sig === null && !out.destroyed) {
      out.destroy(new TbuildError('TB_TAR_FORMAT', `${kind} decompression failed: ${stderr.trim() || `exit ${code}`}`));
    }
  });
  out.on('close', () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    input.unpipe(child.stdin);
    input.destroy();
  });
  return out;
}

/**
 * Read the first `n` bytes of `stream` (fewer at EOF) and give back a stream that still yields
 * everything from the start.
 */
export async function peek(stream: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const chunks: Buffer[] = [];
  let have = 0;
  let ended = false;
  while (have < n) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    const c = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    chunks.push(c);
    have += c.length;
  }
  const head = Buffer.concat(chunks);
  async function* replay(): AsyncGenerator<Buffer> {
    if (head.length) yield head;
    if (ended) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    }
  }
  const out = Readable.from(replay(), { objectMode: false });
  out.on('close', () => {
    if (!ended) void it.return?.();
  });
  return { head: head.subarray(0, Math.min(n, head.length)), stream: out };
}

/** Stream `stream` as an uncompressed tar; undefined when it is not a (possibly compressed) tar. */
export async function openTarStream(stream: Readable): Promise<{ tar: Readable; compression: Compression } | undefined> {
  const first = await peek(stream, 6);
  const compression = detectCompression(first.head);
  const plain = decompress(first.stream, compression);
  let second;
  try {
    second = await peek(plain, 512);
  } catch {
    plain.destroy();
    return undefined;
  }
  if (!isTarHeader(second.head)) {
    second.stream.destroy();
    return undefined;
  }
  return { tar: second.stream, compression };
}

/** True when the file at `path` is a tar archive, plain or compressed (what ADD extracts). */
export async function isArchiveFile(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  const head = Buffer.alloc(512);
  let got: number;
  try {
    got = (await fh.read(head, 0, 512, 0)).bytesRead;
  } finally {
    await fh.close();
  }
  const compression = detectCompression(head.subarray(0, got));
  if (compression === 'none') return isTarHeader(head.subarray(0, got));
  const opened = await openTarStream(createReadStream(path)).catch(() => undefined);
  opened?.tar.destroy();
  return opened !== undefined;
}
