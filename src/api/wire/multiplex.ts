import { Transform, type TransformCallback, Writable } from 'node:stream';

/** Docker's stdcopy stream ids. */
export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
export const SYSTEM = 3;

/** One frame: `[stream, 0, 0, 0, size (big-endian u32)]` then the payload. */
export function frame(stream: number, payload: Uint8Array): Buffer {
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** A Writable that wraps everything written to it in frames for `stream` and forwards to `out`. */
export function framedWriter(out: Writable, stream: number): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (chunk.length === 0 || out.destroyed || out.writableEnded) return cb();
      if (out.write(frame(stream, chunk))) cb();
      else out.once('drain', () => cb());
    },
  });
}

/** Parses a multiplexed stream back into `{ stream, data }` chunks (the client side, and tests). */
export class Demultiplexer extends Transform {
  #buf: Buffer = Buffer.alloc(0);

  constructor() {
    super({ readableObjectMode: true });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    while (this.#buf.length >= 8) {
      const size = this.#buf.readUInt32BE(4);
      if (this.#buf.length < 8 + size) break;
      this.push({ stream: this.#buf[0]!, data: this.#buf.subarray(8, 8 + size) });
      this.#buf = this.#buf.subarray(8 + size);
    }
    cb();
  }

  override _flush(cb: TransformCallback): void {
    cb(this.#buf.length ? new Error(`multiplexed stream ended inside a frame (${this.#buf.length} bytes left)`) : null);
  }
}

/** Split a whole multiplexed buffer into stdout and stderr text. */
export function demuxBuffer(buf: Buffer): { stdout: string; stderr: string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length) {
    const size = buf.readUInt32BE(i + 4);
    const data = buf.subarray(i + 8, i + 8 + size);
    (buf[i] === STDERR ? err : out).push(data);
    i += 8 + size;
  }
  return { stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}
