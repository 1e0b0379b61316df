import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { TbuildError } from '../errors.js';
import type { Digest } from './digest.js';

/**
 * The bytes of `source`, counted and hashed as they pass; fails as soon as there are too many,
 * and at the end when size or digest differ from what was promised. Errors reach the reader.
 */
export function verifyingStream(source: AsyncIterable<Buffer>, want: { digest: Digest; size: number }, onBytes?: (n: number) => void): Readable {
  async function* check(): AsyncGenerator<Buffer> {
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of source) {
      size += chunk.length;
      if (size > want.size) throw new TbuildError('TB_CONTENT_SIZE_MISMATCH', `blob ${want.digest} is longer than its ${want.size} bytes`);
      hash.update(chunk);
      onBytes?.(chunk.length);
      yield chunk;
    }
    if (size !== want.size) throw new TbuildError('TB_CONTENT_SIZE_MISMATCH', `blob ${want.digest} has ${size} bytes, want ${want.size}`);
    const got = `sha256:${hash.digest('hex')}`;
    if (got !== want.digest) throw new TbuildError('TB_CONTENT_DIGEST_MISMATCH', `blob ${want.digest} does not match its digest (got ${got})`);
  }
  return Readable.from(check(), { objectMode: false });
}
