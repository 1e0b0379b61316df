import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeJsonAtomic } from '../util/atomic.js';
import { digestHex, isDigest, type Digest } from '../util/digest.js';
import { TbuildError } from '../errors.js';
import type { CacheIndex, CacheRecord } from './types.js';

/** Open the cache-key index at `<root>/cache/keys/<hex>.json` (one small file per key, replaced atomically). */
export async function openCacheIndex(root: string): Promise<CacheIndex> {
  const dir = join(root, 'cache', 'keys');
  await mkdir(dir, { recursive: true });
  return new FileCacheIndex(dir);
}

function check(key: string): Digest {
  if (!isDigest(key)) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid cache key: ${JSON.stringify(key)}`);
  return key;
}

function isRecord(v: unknown, key: string): v is CacheRecord {
  return !!v && typeof v === 'object' && (v as CacheRecord).key === key && typeof (v as CacheRecord).created === 'string';
}

export class FileCacheIndex implements CacheIndex {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
  }

  #path(key: Digest): string {
    return join(this.#dir, `${digestHex(check(key))}.json`);
  }

  async get(key: Digest): Promise<CacheRecord | undefined> {
    let text: string;
    try {
      text = await readFile(this.#path(key), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    // Records are replaced atomically, so an unreadable one was damaged outside our control:
    // treat it as a miss (the result is rebuilt and the record rewritten), never as a hit.
    try {
      const rec: unknown = JSON.parse(text);
      return isRecord(rec, key) ? rec : undefined;
    } catch {
      return undefined;
    }
  }

  async set(record: CacheRecord): Promise<void> {
    await writeJsonAtomic(this.#path(record.key), record);
  }

  async delete(key: Digest): Promise<void> {
    await unlink(this.#path(key)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  async *walk(): AsyncIterable<CacheRecord> {
    const names = (await readdir(this.#dir)).filter((n) => /^[a-f0-9]{64}\.json$/.test(n)).sort();
    for (const n of names) {
      const rec = await this.get(`sha256:${n.slice(0, 64)}` as Digest);
      if (rec) yield rec;
    }
  }
}
