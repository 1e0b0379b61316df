import { appendFile, mkdir, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ownedName, ownerAlive } from '../util/owned-temp.js';
import { TbuildError } from '../errors.js';
import type { SnapshotLease } from './types.js';

/**
 * Leases, as containerd has them: a running build holds the snapshots it found in the cache, so a
 * prune (or `rmi`) in any process cannot take one between the hit and the step that stands on it.
 *
 * No lock is shared: each side writes first and reads after. A build appends the name to its lease
 * file, then looks for the snapshot's record and for a removal mark; a remover writes the mark,
 * then reads every live lease file. Whichever writes second sees the other's write, so either the
 * remover keeps the snapshot or the build takes it as gone and runs the step again.
 *
 * A lease file and a mark name their owner (`ownedName`): one left by a dead process holds nothing
 * and is swept.
 */
const LEASE_PREFIX = 'lease';
const MARK_PREFIX = 'rm';

export class LeaseFiles {
  readonly #dir: string;
  readonly #meta: string;

  /** `dir`: where lease files live; `meta`: the records' directory, where removal marks go beside them. */
  constructor(dir: string, meta: string) {
    this.#dir = dir;
    this.#meta = meta;
  }

  /** `idOf`: the record id of a snapshot that exists now, by name. */
  lease(idOf: (name: string) => Promise<number | undefined>): SnapshotLease {
    // its file is made on first use
    const holder = join(this.#dir, ownedName(LEASE_PREFIX));
    const added = new Set<string>();
    return {
      add: async (name) => {
        if (!added.has(name)) {
          await this.#append(holder, name);
          added.add(name);
        }
        // Looked up after the lease is on disk: a remover that marked it before reading the leases is seen here.
        const id = await idOf(name);
        return id !== undefined && !this.marked(id);
      },
      release: () => rm(holder, { force: true }),
    };
  }

  /** Mark record `id`, then run `remove` unless a live lease holds `name`. */
  async removeUnlessHeld(id: number, name: string, remove: () => Promise<void>): Promise<void> {
    if (!(await this.#mark(id))) {
      throw new TbuildError('TB_SNAPSHOT_STATE', `snapshot ${JSON.stringify(name)} is being removed by another process`);
    }
    try {
      if ((await this.#held()).has(name)) throw new TbuildError('TB_SNAPSHOT_STATE', `snapshot ${JSON.stringify(name)} is in use by a running build`);
      await remove();
    } finally {
      await unlink(markPath(this.#meta, id)).catch(() => {});
    }
  }

  async #append(holder: string, name: string): Promise<void> {
    try {
      await appendFile(holder, name + '\n');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await mkdir(this.#dir, { recursive: true });
      await appendFile(holder, name + '\n');
    }
  }

  /** Names held by the leases of live processes. */
  async #held(): Promise<Set<string>> {
    const out = new Set<string>();
    for (const n of await readdir(this.#dir).catch(() => [] as string[])) {
      if (!ownerAlive(n, LEASE_PREFIX)) continue;
      const text = await readFile(join(this.#dir, n), 'utf8').catch(() => '');
      for (const line of text.split('\n')) if (line) out.add(line);
    }
    return out;
  }

  /** Mark record `id` as being removed; false when another live remover has marked it. */
  async #mark(id: number): Promise<boolean> {
    const path = markPath(this.#meta, id);
    try {
      await writeFile(path, ownedName(MARK_PREFIX), { flag: 'wx' });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (this.marked(id)) return false;
      // a dead remover's mark: take it over
      await writeFile(path, ownedName(MARK_PREFIX));
      return true;
    }
  }

  /** Whether a live remover has marked record `id` (synchronous: one failed open in the usual case). */
  marked(id: number): boolean {
    let owner: string;
    try {
      owner = readFileSync(markPath(this.#meta, id), 'utf8');
    } catch {
      return false;
    }
    return ownerAlive(owner, MARK_PREFIX);
  }

  /** Lease files of dead processes (every open). */
  async sweepLeases(): Promise<void> {
    for (const n of await readdir(this.#dir).catch(() => [] as string[])) {
      if (!ownerAlive(n, LEASE_PREFIX)) await rm(join(this.#dir, n), { force: true });
    }
  }

  /** Removal marks of dead processes (a repair: the metadata directory is large). */
  async sweepMarks(): Promise<void> {
    for (const n of await readdir(this.#meta).catch(() => [] as string[])) {
      const m = MARK_NAME.exec(n);
      if (m && !this.marked(Number(m[1]))) await rm(join(this.#meta, n), { force: true });
    }
  }
}

const MARK_NAME = /^(\d+)\.removing$/;

/** Beside the record (`<id>.json`), so the records' loader knows it is not one. */
export function markPath(meta: string, id: number): string {
  return join(meta, `${id}.removing`);
}

export function isMarkName(name: string): boolean {
  return MARK_NAME.test(name);
}
