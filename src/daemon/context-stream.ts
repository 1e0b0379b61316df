import { Transform, type TransformCallback } from 'node:stream';
import { detectCompression } from '../cache/layer/decompress.js';

const BLOCK = 512;
const TRAILER = 2 * BLOCK;

/**
 * Completes an uncompressed tar whose end is missing. The Docker CLI, when it adds a Dockerfile
 * from outside the context (`-f ../x`), sends the last member without its padding and without
 * the two zero blocks that end an archive; Docker's daemon reads such a context, so we do too.
 * Compressed contexts and complete archives pass through untouched.
 */
export class TarTerminator extends Transform {
  #head: Buffer = Buffer.alloc(0);
  #tail: Buffer = Buffer.alloc(0);
  #length = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.#head.length < 6) this.#head = Buffer.concat([this.#head, chunk.subarray(0, 6 - this.#head.length)]);
    this.#length += chunk.length;
    this.#tail = Buffer.concat([this.#tail, chunk]);
    if (this.#tail.length > TRAILER) this.#tail = this.#tail.subarray(this.#tail.length - TRAILER);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (this.#length === 0 || detectCompression(this.#head) !== 'none') return cb();
    const complete = this.#length % BLOCK === 0 && this.#tail.length === TRAILER && this.#tail.every((b) => b === 0);
    if (complete) return cb();
    const pad = (BLOCK - (this.#length % BLOCK)) % BLOCK;
    cb(null, Buffer.alloc(pad + TRAILER));
  }
}
