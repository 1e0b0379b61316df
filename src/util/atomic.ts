import { link, open, rename, mkdir, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { ownedName, ownerAlive } from './owned-temp.js';
import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isNoSpace, noSpaceError } from './no-space.js';

/** A temp file beside `path` that names its owner, so another process's sweep can tell whose it is. */
export function tempBeside(path: string): string {
  return join(dirname(path), `.${basename(path)}.${ownedName(TEMP_PREFIX)}.tmp`);
}

const TEMP_PREFIX = 't';

/**
 * Whether `name` is a temp file of `tempBeside` (or an older unowned `.….tmp`) whose writer is
 * gone. A live writer's temp file is about to be renamed into place: removing it breaks the write.
 */
export function isAbandonedTemp(name: string): boolean {
  if (!name.startsWith('.') || !name.endsWith('.tmp')) return false;
  const owner = /\.(t-\d+\.\d+-[0-9a-f]+)\.tmp$/.exec(name);
  return !owner || !ownerAlive(owner[1]!, TEMP_PREFIX);
}

/**
 * Replace `path` with `data` so readers see the old or the new file, never a torn one:
 * write a temp file beside it, fsync, rename over, fsync the directory.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = tempBeside(path);
  const fh = await open(tmp, 'w', mode).catch((err: unknown) => {
    throw isNoSpace(err) ? noSpaceError(path, err) : err;
  });
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(tmp).catch(() => {});
    throw isNoSpace(err) ? noSpaceError(path, err) : err;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fsyncDir(dir);
}

/**
 * `writeFileAtomic` for a stream (an exported archive): `path` appears only once every byte of
 * `stream` is written and synced; on any error the temp file is removed and `path` is untouched.
 */
export async function writeStreamAtomic(path: string, stream: Readable, mode = 0o644): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = tempBeside(path);
  try {
    await pipeline(stream, createWriteStream(tmp, { mode }));
    const fh = await open(tmp, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw isNoSpace(err) ? noSpaceError(path, err) : err;
  }
  await fsyncDir(dir);
}

/**
 * Create `path` with `data` only if nothing is there: written aside, then hard-linked into place
 * (link(2) fails if the name exists), so the file appears complete or not at all and only one of
 * several racing writers wins. False when the name was taken. `durable`: on disk before returning.
 */
export async function createFileExclusive(path: string, data: string, opts: { durable?: boolean } = {}): Promise<boolean> {
  const tmp = tempBeside(path);
  try {
    const fh = await open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(data);
      if (opts.durable) await fh.sync();
    } finally {
      await fh.close();
    }
    await link(tmp, path);
    if (opts.durable) await fsyncDir(dirname(path));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw isNoSpace(err) ? noSpaceError(path, err) : err;
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}

/** fsync of a file written earlier; one removed since needs none. */
export async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, 'r').catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : Promise.reject(err)));
  if (!fh) return;
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r').catch(() => undefined);
  if (!fh) return;
  try {
    await fh.sync();
  } catch {
    // some filesystems refuse fsync on directories; the rename is still atomic
  } finally {
    await fh.close();
  }
}

let seq = 0;

/**
 * Atomic (temp file + rename) but not fsynced: state.json and start.json are rewritten on every
 * start and exit, and after a crash they are reconciled anyway (a dead shim means exited), so
 * durability is not worth an fsync on the start path. Readers never see a torn file.
 */
export async function writeJsonReplace(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.${process.pid}.${seq++}.tmp`;
  try {
    await writeFile(tmp, JSON.stringify(value));
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}
