import { createHash, randomBytes, type Hash } from 'node:crypto';
import { link, mkdir, open, readdir, readFile, stat, unlink, type FileHandle } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { TbuildError } from '../errors.js';
import { fsyncDir } from '../util/atomic.js';
import { digestHex, isDigest, type Digest } from '../util/digest.js';
import type { BlobInfo, ContentStore, IngestOptions, IngestWriter } from './types.js';
import { processAlive } from '../util/process.js';
import { isNoSpace, noSpaceError } from '../util/no-space.js';

/** Open (creating if needed) the content store under `<root>/content/`, sweeping abandoned ingests. */
export async function openContentStore(root: string): Promise<ContentStore> {
  const store = new FileContentStore(join(root, 'content'));
  await store.init();
  return store;
}

function checkDigest(d: string): Digest {
  if (!isDigest(d)) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid digest: ${JSON.stringify(d)}`);
  return d;
}

function notFound(d: string, cause?: unknown): TbuildError {
  return new TbuildError('TB_CONTENT_NOT_FOUND', `content ${d} not found`, { cause, details: { digest: d } });
}

function isENOENT(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT';
}

export class FileContentStore implements ContentStore {
  readonly #blobs: string;
  readonly #ingest: string;

  constructor(dir: string) {
    this.#blobs = join(dir, 'blobs', 'sha256');
    this.#ingest = join(dir, 'ingest');
  }

  async init(): Promise<void> {
    await mkdir(this.#blobs, { recursive: true });
    await mkdir(this.#ingest, { recursive: true });
    await this.sweepIngests();
  }

  /** Host path of a blob; for callers that hand blobs to other programs (e.g. `skopeo`). */
  blobPath(digest: Digest): string {
    return join(this.#blobs, digestHex(checkDigest(digest)));
  }

  async info(digest: Digest): Promise<BlobInfo | undefined> {
    try {
      const st = await stat(this.blobPath(digest));
      return { digest, size: st.size };
    } catch (err) {
      if (isENOENT(err)) return undefined;
      throw err;
    }
  }

  async read(digest: Digest): Promise<Buffer> {
    try {
      return await readFile(this.blobPath(digest));
    } catch (err) {
      if (isENOENT(err)) throw notFound(digest, err);
      throw err;
    }
  }

  createReadStream(digest: Digest): Readable {
    const path = this.blobPath(digest);
    let fh: FileHandle | undefined;
    return new Readable({
      highWaterMark: 1 << 20,
      construct(cb) {
        open(path, 'r').then(
          (h) => {
            fh = h;
            cb();
          },
          (err) => cb(isENOENT(err) ? notFound(digest, err) : err),
        );
      },
      read(n) {
        const buf = Buffer.allocUnsafe(Math.max(n, 1 << 16));
        fh!.read(buf, 0, buf.length, null).then(
          ({ bytesRead }) => this.push(bytesRead ? buf.subarray(0, bytesRead) : null),
          (err) => this.destroy(err),
        );
      },
      destroy(err, cb) {
        if (!fh) return cb(err);
        fh.close().then(
          () => cb(err),
          () => cb(err),
        );
      },
    });
  }

  async writer(opts: IngestOptions = {}): Promise<IngestWriter> {
    if (opts.expected) checkDigest(opts.expected);
    const tmp = join(this.#ingest, `${process.pid}-${Date.now().toString(36)}-${randomBytes(8).toString('hex')}`);
    const fh = await open(tmp, 'wx', 0o444);
    return new FileIngestWriter(fh, tmp, this.#blobs, opts);
  }

  async put(data: Uint8Array | string, opts?: IngestOptions): Promise<BlobInfo> {
    const w = await this.writer(opts);
    try {
      await w.write(typeof data === 'string' ? Buffer.from(data) : data);
    } catch (err) {
      await w.abort();
      throw err;
    }
    return w.commit();
  }

  async ingest(stream: Readable, opts?: IngestOptions): Promise<BlobInfo> {
    const w = await this.writer(opts);
    try {
      for await (const chunk of stream) {
        await w.write(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array));
      }
    } catch (err) {
      await w.abort();
      stream.destroy();
      throw err;
    }
    return w.commit();
  }

  async delete(digest: Digest): Promise<void> {
    try {
      await unlink(this.blobPath(digest));
    } catch (err) {
      if (isENOENT(err)) throw notFound(digest, err);
      throw err;
    }
  }

  async *walk(): AsyncIterable<BlobInfo> {
    const names = await readdir(this.#blobs);
    names.sort();
    for (const hex of names) {
      const digest = `sha256:${hex}`;
      if (!isDigest(digest)) continue;
      try {
        const st = await stat(join(this.#blobs, hex));
        yield { digest, size: st.size };
      } catch (err) {
        if (!isENOENT(err)) throw err; // deleted while walking
      }
    }
  }

  /**
   * Remove ingest files whose writer is gone. Each is named after the process that writes it, so
   * a second store open on the same root (tests, tools) never deletes another's writes in flight.
   */
  async sweepIngests(): Promise<number> {
    let n = 0;
    for (const name of await readdir(this.#ingest).catch(() => [] as string[])) {
      const pid = Number(name.split('-')[0]);
      if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) continue;
      try {
        await unlink(join(this.#ingest, name));
        n++;
      } catch (err) {
        if (!isENOENT(err)) throw err;
      }
    }
    return n;
  }
}

/** Chunks are written once this many bytes have gathered. */
const GATHER_BYTES = 1 << 20;
/** …or this many chunks (one writev takes at most IOV_MAX, 1024). */
const GATHER_CHUNKS = 256;

/** What of `chunks` a short writev left (by reference). */
function rest(chunks: Uint8Array[], written: number): Uint8Array[] {
  let i = 0;
  while (i < chunks.length && written >= chunks[i]!.length) written -= chunks[i++]!.length;
  if (i === chunks.length) return [];
  return [chunks[i]!.subarray(written), ...chunks.slice(i + 1)];
}

async function fileDigest(path: string): Promise<Digest> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}` as Digest;
}

class FileIngestWriter implements IngestWriter {
  readonly #fh: FileHandle;
  readonly #tmp: string;
  readonly #blobs: string;
  readonly #opts: IngestOptions;
  readonly #hash: Hash = createHash('sha256');
  #size = 0;
  #state: 'open' | 'done' = 'open';
  #gathered: Uint8Array[] = [];
  #gatheredBytes = 0;

  constructor(fh: FileHandle, tmp: string, blobs: string, opts: IngestOptions) {
    this.#fh = fh;
    this.#tmp = tmp;
    this.#blobs = blobs;
    this.#opts = opts;
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.#state !== 'open') throw new TbuildError('TB_INTERNAL', 'write to a finished ingest');
    if (this.#opts.size !== undefined && this.#size + chunk.length > this.#opts.size) {
      await this.abort();
      throw new TbuildError('TB_CONTENT_SIZE_MISMATCH', `content is larger than the expected ${this.#opts.size} bytes`, {
        details: { expected: this.#opts.size },
      });
    }
    if (!this.#opts.hashedByCaller) this.#hash.update(chunk);
    this.#size += chunk.length;
    // A download's 16–64 KB chunks cost a thread-pool round trip (a thread woken) each: they are
    // written a megabyte at a time, by reference (no copy).
    this.#gathered.push(chunk);
    this.#gatheredBytes += chunk.length;
    if (this.#gatheredBytes >= GATHER_BYTES || this.#gathered.length >= GATHER_CHUNKS) await this.#flush();
  }

  async flush(): Promise<void> {
    if (this.#state !== 'open') throw new TbuildError('TB_INTERNAL', 'flush of a finished ingest');
    await this.#flush();
  }

  async #flush(): Promise<void> {
    if (!this.#gathered.length) return;
    const chunks = this.#gathered;
    const bytes = this.#gatheredBytes;
    this.#gathered = [];
    this.#gatheredBytes = 0;
    // A chunk moved to another thread before it was written out is empty now: never a short blob.
    if (chunks.reduce((n, c) => n + c.length, 0) !== bytes) {
      await this.abort();
      throw new TbuildError('TB_INTERNAL', 'a chunk given to the content store changed before it was written');
    }
    try {
      let pending = chunks;
      while (pending.length) {
        const { bytesWritten } = await this.#fh.writev(pending);
        pending = rest(pending, bytesWritten);
      }
    } catch (err) {
      if (!isNoSpace(err)) throw err;
      // nothing half-written stays: the temp file goes now
      await this.abort();
      throw noSpaceError(`a blob into the content store (${dirname(this.#blobs)})`, err);
    }
  }

  async commit(hashed?: Digest): Promise<BlobInfo> {
    if (this.#state !== 'open') throw new TbuildError('TB_INTERNAL', 'commit of a finished ingest');
    try {
      await this.#flush();
      this.#state = 'done';
      // a caller that has no digest after all (its hashing stopped early) gets the bytes read back
      const digest = !this.#opts.hashedByCaller ? (`sha256:${this.#hash.digest('hex')}` as Digest) : (hashed ?? (await fileDigest(this.#tmp)));
      const { expected, size } = this.#opts;
      if (size !== undefined && this.#size !== size) {
        throw new TbuildError('TB_CONTENT_SIZE_MISMATCH', `content is ${this.#size} bytes, expected ${size}`, {
          details: { expected: size, actual: this.#size },
        });
      }
      if (expected !== undefined && digest !== expected) {
        throw new TbuildError('TB_CONTENT_DIGEST_MISMATCH', `content digest ${digest} does not match expected ${expected}`, {
          details: { expected, actual: digest },
        });
      }
      await this.#fh.sync();
      await this.#fh.close();
      const final = join(this.#blobs, digestHex(digest));
      // link() never replaces: a concurrent writer of the same bytes may have won, which is fine.
      try {
        await link(this.#tmp, final);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      await unlink(this.#tmp).catch(() => {});
      await fsyncDir(this.#blobs);
      return { digest, size: this.#size };
    } catch (err) {
      this.#state = 'done';
      await this.#fh.close().catch(() => {});
      await unlink(this.#tmp).catch(() => {});
      throw isNoSpace(err) ? noSpaceError(`a blob into the content store (${dirname(this.#blobs)})`, err) : err;
    }
  }

  async abort(): Promise<void> {
    if (this.#state === 'done') return;
    this.#state = 'done';
    await this.#fh.close().catch(() => {});
    await unlink(this.#tmp).catch(() => {});
  }
}
