import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TbuildError } from '../errors.js';
import { verifyingStream } from '../util/verify-stream.js';
import { writeFileAtomic } from '../util/atomic.js';
import { digestHex, isDigest, sha256, type Digest } from '../util/digest.js';
import type { Descriptor, Fetcher, Pusher, Resolved } from '../registry/types.js';

/**
 * An OCI image layout directory (`oci-layout`, `index.json`, `blobs/sha256/`) seen through the
 * registry client's Fetcher and Pusher, so `type=local` caches share every line of the registry
 * path. Blobs are written beside their final name and renamed once verified; `index.json` is
 * replaced atomically, so a crash leaves the previous cache readable.
 */

const REF_NAME = 'org.opencontainers.image.ref.name';

interface LayoutIndex {
  schemaVersion: number;
  mediaType?: string;
  manifests: Descriptor[];
}

function blobPath(dir: string, d: Digest): string {
  return join(dir, 'blobs', 'sha256', digestHex(d));
}

async function readIndex(dir: string, must: boolean): Promise<LayoutIndex> {
  let text: string;
  try {
    text = await readFile(join(dir, 'index.json'), 'utf8');
  } catch (err) {
    if (!must && (err as NodeJS.ErrnoException).code === 'ENOENT') return { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] };
    throw new TbuildError('TB_REGISTRY_NOT_FOUND', `cache ${dir}: no OCI layout there (index.json: ${(err as Error).message})`);
  }
  try {
    const index = JSON.parse(text) as LayoutIndex;
    if (!Array.isArray(index.manifests)) throw new Error('no manifests');
    return index;
  } catch (err) {
    throw new TbuildError('TB_REGISTRY_PROTOCOL', `cache ${dir}: index.json is not an OCI index (${(err as Error).message})`);
  }
}

export class LayoutFetcher implements Fetcher {
  constructor(readonly dir: string) {}

  async manifest(tagOrDigest: string): Promise<Resolved> {
    const index = await readIndex(this.dir, true);
    const desc = isDigest(tagOrDigest)
      ? index.manifests.find((m) => m.digest === tagOrDigest) ?? { mediaType: '', digest: tagOrDigest, size: -1 }
      : index.manifests.find((m) => m.annotations?.[REF_NAME] === tagOrDigest);
    if (!desc) throw new TbuildError('TB_REGISTRY_NOT_FOUND', `cache ${this.dir}: no manifest tagged ${tagOrDigest}`);
    const bytes = await readFile(blobPath(this.dir, desc.digest)).catch(() => {
      throw new TbuildError('TB_REGISTRY_NOT_FOUND', `cache ${this.dir}: manifest ${desc.digest} is missing`);
    });
    if (sha256(bytes) !== desc.digest) throw new TbuildError('TB_CONTENT_DIGEST_MISMATCH', `cache ${this.dir}: manifest ${desc.digest} does not match its digest`);
    const mediaType = desc.mediaType || (JSON.parse(bytes.toString()) as { mediaType?: string }).mediaType || '';
    return { repository: { domain: 'local', path: this.dir }, descriptor: { ...desc, mediaType, size: bytes.length }, bytes };
  }

  async blob(desc: Descriptor, onBytes?: (n: number) => void): Promise<Readable> {
    const path = blobPath(this.dir, desc.digest);
    await stat(path).catch(() => {
      throw new TbuildError('TB_REGISTRY_NOT_FOUND', `cache ${this.dir}: blob ${desc.digest} is missing`);
    });
    return verifyingStream(createReadStream(path), desc, onBytes);
  }

  async blobBytes(desc: Descriptor): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of await this.blob(desc)) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }
}

export class LayoutPusher implements Pusher {
  readonly #dir: string;
  readonly #mediaType: string;

  /** `indexMediaType` is written into a new index.json. */
  constructor(dir: string, indexMediaType = 'application/vnd.oci.image.index.v1+json') {
    this.#dir = dir;
    this.#mediaType = indexMediaType;
  }

  async hasBlob(digest: Digest): Promise<boolean> {
    return stat(blobPath(this.#dir, digest)).then(() => true, () => false);
  }

  async mountBlob(): Promise<boolean> {
    return false;
  }

  async putBlob(data: Buffer, digest?: Digest): Promise<Descriptor> {
    const d = sha256(data);
    if (digest && digest !== d) throw new TbuildError('TB_CONTENT_DIGEST_MISMATCH', `blob ${digest}: content hashes to ${d}`);
    await mkdir(join(this.#dir, 'blobs', 'sha256'), { recursive: true });
    if (!(await this.hasBlob(d))) await writeFileAtomic(blobPath(this.#dir, d), data);
    return { mediaType: 'application/octet-stream', digest: d, size: data.length };
  }

  async pushStream(data: Readable, onBytes?: (n: number) => void): Promise<{ digest: Digest; size: number }> {
    const dir = join(this.#dir, 'blobs', 'sha256');
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `.tmp-${randomBytes(6).toString('hex')}`);
    const hash = createHash('sha256');
    let size = 0;
    const count = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        size += chunk.length;
        onBytes?.(chunk.length);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(data, count, createWriteStream(tmp));
      const digest = `sha256:${hash.digest('hex')}` as Digest;
      await rename(tmp, blobPath(this.#dir, digest));
      return { digest, size };
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /**
   * The manifest goes in as a blob; under a tag, index.json then names it (replacing that tag).
   * By digest it is only a blob, as an untagged manifest in a registry is reachable only by digest.
   */
  async putManifest(tagOrDigest: string, mediaType: string, bytes: Buffer): Promise<Digest> {
    const { digest } = await this.putBlob(bytes);
    if (isDigest(tagOrDigest)) return digest;
    await writeFileAtomic(join(this.#dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    const index = await readIndex(this.#dir, false);
    index.mediaType ??= this.#mediaType;
    index.manifests = index.manifests.filter((m) => m.annotations?.[REF_NAME] !== tagOrDigest);
    index.manifests.push({ mediaType, digest, size: bytes.length, annotations: { [REF_NAME]: tagOrDigest } });
    await writeFileAtomic(join(this.#dir, 'index.json'), JSON.stringify(index));
    return digest;
  }
}
