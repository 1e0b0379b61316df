import { readFile, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImageLayer } from './types.js';
import { digestHex, type Digest } from '../util/digest.js';
import { writeJsonAtomic, fsyncDir } from '../util/atomic.js';

/**
 * The image store's metadata on disk, under `<root>/images/`:
 *   records/<hex>.json   one per image: layers (diffID, size, snapshot), repo digests, created
 *   repositories.json    every tag → image id, replaced atomically as a whole
 * Only reads and atomic writes live here; the order of writes that keeps names pointing at
 * something is the store's (image-store.ts).
 */
export interface StoredRecord {
  id: Digest;
  manifest: Digest;
  layers: ImageLayer[];
  repoDigests: string[];
  created: string;
  annotations?: Record<string, string>;
}

export interface Repositories {
  /** Normalized `domain/path:tag` → image id. */
  tags: Record<string, Digest>;
}

export class ImageFiles {
  readonly dir: string;
  readonly records: string;

  constructor(dir: string) {
    this.dir = dir;
    this.records = join(dir, 'records');
  }

  recordPath(id: Digest): string {
    return join(this.records, `${digestHex(id)}.json`);
  }

  async readRecord(id: Digest): Promise<StoredRecord | undefined> {
    try {
      return JSON.parse(await readFile(this.recordPath(id), 'utf8')) as StoredRecord;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async allRecords(): Promise<StoredRecord[]> {
    const files = (await readdir(this.records)).filter((f) => /^[a-f0-9]{64}\.json$/.test(f));
    const out: StoredRecord[] = [];
    for (const f of files) {
      const r = await this.readRecord(`sha256:${f.slice(0, 64)}` as Digest);
      if (r) out.push(r);
    }
    return out;
  }

  /** Record files whose name starts with `hex` (a short id). */
  async recordFilesWithPrefix(hex: string): Promise<string[]> {
    return (await readdir(this.records)).filter((f) => f.startsWith(hex) && f.endsWith('.json'));
  }

  writeRecord(record: StoredRecord): Promise<void> {
    return writeJsonAtomic(this.recordPath(record.id), record);
  }

  /** Durable: once this returns, a crash cannot bring the record back. */
  async deleteRecord(id: Digest): Promise<void> {
    await unlink(this.recordPath(id));
    await fsyncDir(this.records);
  }

  async readRepositories(): Promise<Repositories> {
    try {
      return JSON.parse(await readFile(join(this.dir, 'repositories.json'), 'utf8')) as Repositories;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { tags: {} };
      throw err;
    }
  }

  writeRepositories(repos: Repositories): Promise<void> {
    const sorted: Record<string, Digest> = {};
    for (const k of Object.keys(repos.tags).sort()) sorted[k] = repos.tags[k]!;
    return writeJsonAtomic(join(this.dir, 'repositories.json'), { tags: sorted });
  }
}
