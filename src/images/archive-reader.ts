import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { ownedName } from '../util/owned-temp.js';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { TbuildError, isTbuildError } from '../errors.js';
import type { Digest } from '../util/digest.js';
import { decompress } from './decompress.js';

interface StagedFile {
  path: string;
  size: number;
  /** sha256 of the bytes as stored in the archive. */
  digest: Digest;
}

/** Prefix of one load's staging directory (an `ownedName`: swept at open once its process is gone). */
export const LOAD_STAGING = 'load';

export function archiveInvalid(message: string, cause?: unknown): TbuildError {
  return new TbuildError('TB_ARCHIVE_INVALID', message, cause === undefined ? {} : { cause });
}

/** Normalize an archive member name; names that climb out (`..`) or are absolute are hostile. */
export function cleanMemberName(name: string): string {
  if (name.startsWith('/')) throw archiveInvalid(`archive member ${JSON.stringify(name)} has an absolute path`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) throw archiveInvalid(`archive member ${JSON.stringify(name)} escapes the archive`);
  return parts.join('/');
}

/**
 * The members of an image archive, read in one streaming pass: regular files are spooled into a
 * staging directory (hashed on the way), links are kept as name → target, nothing else is kept.
 * Members are found by name afterwards, whatever order the archive had them in.
 */
export class StagedArchive {
  readonly #dir: string;
  readonly #files = new Map<string, StagedFile>();
  readonly #links = new Map<string, string>();

  private constructor(dir: string) {
    this.#dir = dir;
  }

  /** Read `input` (plain or compressed tar) into a new staging dir under `tmpRoot`. */
  static async read(input: Readable, tmpRoot: string): Promise<StagedArchive> {
    const dir = join(tmpRoot, ownedName(LOAD_STAGING));
    await mkdir(dir, { recursive: true });
    const archive = new StagedArchive(dir);
    try {
      await archive.#extract(input);
      return archive;
    } catch (err) {
      await archive.dispose();
      if (isTbuildError(err)) throw err;
      throw archiveInvalid(`invalid archive: ${(err as Error).message}`, err);
    }
  }

  async #extract(input: Readable): Promise<void> {
    const { stream } = await decompress(input, 'archive');
    const extract = tar.extract();
    const feeding = pipeline(stream, extract);
    feeding.catch(() => {});
    let n = 0;
    let sawEntry = false;
    for await (const entry of extract) {
      sawEntry = true;
      const h = entry.header;
      const name = cleanMemberName(h.name);
      if ((h.type === 'file' || h.type === 'contiguous-file') && name !== '') {
        const path = join(this.#dir, String(n++));
        const hash = createHash('sha256');
        let size = 0;
        const hasher = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            hash.update(chunk);
            size += chunk.length;
            cb(null, chunk);
          },
        });
        await pipeline(entry, hasher, createWriteStream(path));
        this.#files.set(name, { path, size, digest: `sha256:${hash.digest('hex')}` as Digest });
        this.#links.delete(name);
      } else {
        if ((h.type === 'symlink' || h.type === 'link') && h.linkname) {
          // Symlink targets are relative to the member's directory; hard links to the archive root.
          const target =
            h.type === 'symlink' ? posix.join(posix.dirname(name), h.linkname) : h.linkname;
          if (h.linkname.startsWith('/')) throw archiveInvalid(`archive link ${name} points outside the archive`);
          this.#links.set(name, cleanMemberName(target));
          this.#files.delete(name);
        }
        entry.resume();
        await new Promise<void>((res, rej) => {
          entry.on('end', res);
          entry.on('error', rej);
        });
      }
    }
    await feeding;
    if (!sawEntry) throw archiveInvalid('invalid archive: empty or not a tar file');
  }

  #resolve(name: string): StagedFile | undefined {
    let n = cleanMemberName(name);
    for (let hops = 0; hops < 16; hops++) {
      const f = this.#files.get(n);
      if (f) return f;
      const link = this.#links.get(n);
      if (link === undefined) return undefined;
      n = link;
    }
    throw archiveInvalid(`too many levels of links at ${name}`);
  }

  has(name: string): boolean {
    return this.#resolve(name) !== undefined;
  }

  #must(name: string): StagedFile {
    const f = this.#resolve(name);
    if (!f) throw archiveInvalid(`archive is missing ${JSON.stringify(name)}`);
    return f;
  }

  /** Size and digest of a member as stored. */
  stat(name: string): { size: number; digest: Digest } {
    const f = this.#must(name);
    return { size: f.size, digest: f.digest };
  }

  async text(name: string): Promise<string> {
    const f = this.#must(name);
    if (f.size > 64 * 1024 * 1024) throw archiveInvalid(`${name} is too large for a metadata file`);
    return readFile(f.path, 'utf8');
  }

  async json<T>(name: string): Promise<T> {
    const text = await this.text(name);
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw archiveInvalid(`${name} is not valid JSON: ${(err as Error).message}`, err);
    }
  }

  open(name: string): Readable {
    return createReadStream(this.#must(name).path);
  }

  async dispose(): Promise<void> {
    await rm(this.#dir, { recursive: true, force: true });
  }
}
