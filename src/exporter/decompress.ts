import { Readable } from 'node:stream';
import { spawn } from 'node:child_process';
import { createGunzip } from 'node:zlib';
import { TbuildError } from '../errors.js';

export type Compression = 'none' | 'gzip' | 'bzip2' | 'xz' | 'zstd';

/** Recognize a compression format by its magic bytes. */
export function detectCompression(head: Uint8Array): Compression {
  const b = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
  if (b.length >= 3 && b.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
  if (b.length >= 6 && b.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (b.length >= 4 && b.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return 'zstd';
  return 'none';
}

/** Read the first bytes of a stream without losing them: returns them and a stream of the whole input. */
async function peek(input: Readable, want: number): Promise<{ head: Buffer; whole: Readable }> {
  const it = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const chunks: Buffer[] = [];
  let have = 0;
  let done = false;
  while (have < want) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    const c = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
    chunks.push(c);
    have += c.length;
  }
  const head = Buffer.concat(chunks);
  async function* replay(): AsyncGenerator<Buffer> {
    if (head.length) yield head;
    if (done) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  return { head, whole: Readable.from(replay(), { objectMode: false }) };
}

function invalid(what: string, detail: string, cause?: unknown): TbuildError {
  return new TbuildError('TB_ARCHIVE_INVALID', `${what}: ${detail}`, cause === undefined ? {} : { cause });
}

/** Run `cmd -dc` as a filter; a non-zero exit becomes TB_ARCHIVE_INVALID at the end of the stream. */
async function* externalFilter(cmd: string, input: Readable, what: string): AsyncGenerator<Buffer> {
  const child = spawn(cmd, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const errs: Buffer[] = [];
  child.stderr.on('data', (d: Buffer) => errs.push(d));
  const exited = new Promise<number | string>((resolve) => {
    child.on('error', (err) => resolve(err.message));
    child.on('close', (code, signal) => resolve(code ?? signal ?? 'killed'));
  });
  // EPIPE when the tool stops reading early: its exit status tells the real story.
  child.stdin.on('error', () => {});
  input.on('error', () => child.kill('SIGKILL'));
  input.pipe(child.stdin);
  let finished = false;
  try {
    for await (const chunk of child.stdout) yield chunk as Buffer;
    const status = await exited;
    finished = true;
    if (input.errored) throw input.errored;
    if (status !== 0) throw invalid(what, `${cmd} failed: ${Buffer.concat(errs).toString().trim() || `exit ${status}`}`);
  } finally {
    if (!finished) child.kill('SIGKILL');
    input.unpipe(child.stdin);
    input.destroy();
  }
}

/** gunzip in-process; zlib's errors become TB_ARCHIVE_INVALID. */
async function* gunzip(input: Readable, what: string): AsyncGenerator<Buffer> {
  const z = createGunzip();
  input.on('error', (err) => z.destroy(err));
  input.pipe(z);
  try {
    for await (const chunk of z) yield chunk as Buffer;
  } catch (err) {
    if (err instanceof TbuildError) throw err;
    throw invalid(what, `bad gzip data: ${(err as Error).message}`, err);
  } finally {
    input.unpipe(z);
    input.destroy();
    z.destroy();
  }
}

/**
 * The uncompressed bytes of `input` (plain, gzip, bzip2, xz or zstd, detected by magic bytes).
 * gzip is done in-process; the others use the Debian tools (`bzip2`, `xz`, `zstd`).
 */
export async function decompress(input: Readable, what = 'layer'): Promise<{ stream: Readable; compression: Compression }> {
  const { head, whole } = await peek(input, 6);
  const compression = detectCompression(head);
  const stream = (gen: AsyncGenerator<Buffer>): Readable => Readable.from(gen, { objectMode: false });
  switch (compression) {
    case 'none':
      return { stream: whole, compression };
    case 'gzip':
      return { stream: stream(gunzip(whole, what)), compression };
    case 'bzip2':
    case 'xz':
    case 'zstd':
      return { stream: stream(externalFilter(compression, whole, what)), compression };
  }
}
