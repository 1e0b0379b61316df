import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { TbuildError } from '../../src/errors.js';
import { isDigest, type Digest } from '../../src/util/digest.js';
import type { BlobInfo, ContentStore, IngestOptions, IngestWriter } from '../../src/cache/types.js';

/**
 * An in-memory ContentStore with the same contract as the file one (it passes the same
 * conformance suite), for unit tests that need no disk.
 */
export class MemoryContentStore implements ContentStore {
  readonly #blobs = new Map<Digest, Buffer>();
  /** Writers not yet committed or aborted (for tests asserting nothing leaks). */
  pending = 0;

  #check(d: string): Digest {
    if (!isDigest(d)) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid digest: ${JSON.stringify(d)}`);
    return d;
  }

  async info(digest: Digest): Promise<BlobInfo | undefined> {
    const b = this.#blobs.get(this.#check(digest));
    return b ? { digest, size: b.length } : undefined;
  }

  async read(digest: Digest): Promise<Buffer> {
    const b = this.#blobs.get(this.#check(digest));
    if (!b) throw new TbuildError('TB_CONTENT_NOT_FOUND', `content ${digest} not found`);
    return Buffer.from(b);
  }

  createReadStream(digest: Digest): Readable {
    const b = this.#blobs.get(this.#check(digest));
    if (!b) {
      const r = new Readable({ read() {} });
      process.nextTick(() => r.destroy(new TbuildError('TB_CONTENT_NOT_FOUND', `content ${digest} not found`)));
      return r;
    }
    return Readable.from([Buffer.from(b)]);
  }

  async writer(opts: IngestOptions = {}): Promise<IngestWriter> {
    if (opts.expected) this.#check(opts.expected);
    const chunks: Buffer[] = [];
    const hash = createHash('sha256');
    let size = 0;
    let open = true;
    this.pending++;
    const finish = () => {
      if (open) this.pending--;
      open = false;
    };
    return {
      write: async (chunk) => {
        if (!open) throw new TbuildError('TB_INTERNAL', 'write to a finished ingest');
        if (opts.size !== undefined && size + chunk.length > opts.size) {
          finish();
          throw new TbuildError('TB_CONTENT_SIZE_MISMATCH', `content is larger than the expected ${opts.size} bytes`);
        }
        hash.update(chunk);
        size += chunk.length;
        chunks.push(Buffer.from(chunk));
      },
      // (chunks are copied as they come: nothing to write out)
      flush: async () => {
        if (!open) throw new TbuildError('TB_INTERNAL', 'flush of a finished ingest');
      },
      commit: async () => {
        if (!open) throw new TbuildError('TB_INTERNAL', 'commit of a finished ingest');
        finish();
        const digest = `sha256:${hash.digest('hex')}` as Digest;
        if (opts.size !== undefined && size !== opts.size) {
          throw new TbuildError('TB_CONTENT_SIZE_MISMATCH', `content is ${size} bytes, expected ${opts.size}`);
        }
        if (opts.expected !== undefined && digest !== opts.expected) {
          throw new TbuildError('TB_CONTENT_DIGEST_MISMATCH', `content digest ${digest} does not match ${opts.expected}`);
        }
        if (!this.#blobs.has(digest)) this.#blobs.set(digest, Buffer.concat(chunks));
        return { digest, size };
      },
      abort: async () => finish(),
    };
  }

  async put(data: Uint8Array | string, opts?: IngestOptions): Promise<BlobInfo> {
    const w = await this.writer(opts);
    await w.write(typeof data === 'string' ? Buffer.from(data) : data);
    return w.commit();
  }

  async ingest(stream: Readable, opts?: IngestOptions): Promise<BlobInfo> {
    const w = await this.writer(opts);
    try {
      for await (const c of stream) await w.write(typeof c === 'string' ? Buffer.from(c) : (c as Uint8Array));
    } catch (err) {
      await w.abort();
      throw err;
    }
    return w.commit();
  }

  async delete(digest: Digest): Promise<void> {
    if (!this.#blobs.delete(this.#check(digest))) {
      throw new TbuildError('TB_CONTENT_NOT_FOUND', `content ${digest} not found`);
    }
  }

  async *walk(): AsyncIterable<BlobInfo> {
    for (const d of [...this.#blobs.keys()].sort()) {
      const b = this.#blobs.get(d);
      if (b) yield { digest: d, size: b.length };
    }
  }

  async sweepIngests(): Promise<number> {
    return 0;
  }
}
