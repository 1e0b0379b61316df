import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { digestHex, isDigest, type Digest } from '../util/digest.js';

/**
 * What is known about the compressed forms of a layer (by its diffID): their digests, sizes,
 * media types, and the repositories (`host/path`) known to hold them. A push uses it to skip
 * compressing again, to skip a blob the registry has (HEAD) or to mount it from another
 * repository of the same registry. Small JSON files, one per diffID, replaced atomically; losing
 * one only costs a recompression.
 */

export interface CompressedBlob {
  digest: Digest;
  size: number;
  mediaType: string;
  /** Repositories known to have it, `host/path`. */
  repos: string[];
}

export class BlobMap {
  readonly #dir: string;

  constructor(root: string) {
    this.#dir = join(root, 'registry', 'compressed');
  }

  #file(diffId: Digest): string {
    return join(this.#dir, `${digestHex(diffId)}.json`);
  }

  async get(diffId: Digest): Promise<CompressedBlob[]> {
    try {
      const list = JSON.parse(await readFile(this.#file(diffId), 'utf8')) as CompressedBlob[];
      return Array.isArray(list) ? list.filter((b) => b && isDigest(b.digest) && Array.isArray(b.repos)) : [];
    } catch {
      return [];
    }
  }

  /** Record that `repo` holds `blob` (the compressed form of `diffId`). */
  async add(diffId: Digest, blob: Omit<CompressedBlob, 'repos'>, repo: string): Promise<void> {
    const list = await this.get(diffId);
    let entry = list.find((b) => b.digest === blob.digest);
    if (!entry) {
      entry = { ...blob, repos: [] };
      list.push(entry);
    }
    if (!entry.repos.includes(repo)) entry.repos.push(repo);
    // Keep the list short: the most recent repositories are the likeliest mount sources.
    entry.repos = entry.repos.slice(-8);
    await mkdir(this.#dir, { recursive: true });
    await writeFileAtomic(this.#file(diffId), JSON.stringify(list.slice(-4)));
  }
}
