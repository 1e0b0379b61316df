import { mkdir, rm, unlink, access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TbuildError } from '../errors.js';
import { diskUsage } from './usage.js';
import { warmFsHelper } from './fsops.js';
import { fsyncDir, fsyncFile } from '../util/atomic.js';
import { committedUsage, makeSnapshotDir, removeSnapshotDir } from './snapshot-dirs.js';
import { DEBUG_LABEL, KEEP_LABEL, createRecord, ensureSpread, info, loadRecords, readRecord, recordPath, writeRecord, type SnapshotRecord } from './snapshot-records.js';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { LowerDirs, overlayMount } from './snapshot-mounts.js';
import type { Mount, SnapshotInfo, SnapshotLease, Snapshotter, StoreProblem, Usage } from './types.js';
import { LeaseFiles } from './snapshot-leases.js';
import { checkSnapshots, sweepAtOpen, type SnapshotCheckTarget } from './snapshot-check.js';

// Callers import the depth limits from here (they are part of this snapshotter's behaviour).
export { MAX_DIRECT_LAYERS, FLATTEN_STEP } from './snapshot-mounts.js';

export { KEEP_LABEL, DEBUG_LABEL };

export async function openSnapshotter(root: string): Promise<Snapshotter> {
  const s = new OverlaySnapshotter(join(resolve(root), 'snapshots'));
  await s.init();
  return s;
}

export class OverlaySnapshotter implements Snapshotter {
  readonly #dir: string;
  readonly #meta: string;
  readonly #byName = new Map<string, SnapshotRecord>();
  readonly #byId = new Map<number, SnapshotRecord>();
  #nextId = 1;
  /**
   * No global lock: every check and change of the maps happens synchronously at the start of an
   * operation (a new snapshot is in the maps, so its key and its parent are held, before any I/O),
   * and only the disk work is awaited. Names being committed to are reserved here meanwhile.
   */
  readonly #reserved = new Set<string>();
  /** Snapshots of ours whose record may not be on disk yet: a refresh must not drop them. */
  readonly #creating = new Set<SnapshotRecord>();
  /** Records this snapshotter made (the rest came from disk and may be another process's). */
  readonly #mine = new WeakSet<SnapshotRecord>();
  /** The metadata directory's mtime when the maps were last brought up to date with it. */
  #refreshedAt?: bigint;
  readonly #busy = new Map<string, Promise<void>>();
  readonly #lowers: LowerDirs;
  readonly #leases: LeaseFiles;

  constructor(dir: string) {
    this.#dir = dir;
    this.#meta = join(dir, 'metadata');
    this.#leases = new LeaseFiles(join(dir, 'leases'), this.#meta);
    this.#lowers = new LowerDirs(dir, { idChain: (id) => this.#idChain(id), fsDir: (id) => this.#fs(id) });
  }

  /** Operations on one key run one after another; different keys run concurrently. */
  #perKey<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#busy.get(key) ?? Promise.resolve();
    const p = prev.then(fn, fn);
    const tail = p.then(
      () => {},
      () => {},
    );
    this.#busy.set(key, tail);
    void tail.then(() => {
      if (this.#busy.get(key) === tail) this.#busy.delete(key);
    });
    return p;
  }

  async init(): Promise<void> {
    await mkdir(this.#meta, { recursive: true });
    await ensureSpread(this.#dir, this.#meta);
    this.#refreshedAt = statSync(this.#meta, { bigint: true }).mtimeNs;
    for (const rec of await loadRecords(this.#meta)) {
      this.#byId.set(rec.id, rec);
      this.#byName.set(rec.name, rec);
      this.#nextId = Math.max(this.#nextId, rec.id + 1);
    }
    await this.#sweep();
  }

  async #sweep(): Promise<void> {
    const highest = await sweepAtOpen(this.#checkTarget());
    this.#nextId = Math.max(this.#nextId, highest + 1);
    await this.#leases.sweepLeases().catch(() => {});
  }

  /** The snapshotter as the open-time sweep and `system verify` see it (snapshot-check.ts). */
  #checkTarget(): SnapshotCheckTarget {
    return {
      dir: this.#dir,
      meta: this.#meta,
      records: () => [...this.#byId.values()].filter((r) => !this.#creating.has(r)),
      remove: (rec) => this.#perKey(rec.name, () => this.#removeRecord(rec)),
    };
  }

  /**
   * Bring the maps up to date with the records on disk: other processes (a daemon and any number
   * of embedded CLIs share a root) make, commit and remove snapshots too. Cheap when nothing
   * changed (one stat of the metadata directory, whose mtime moves with every record made,
   * committed or removed).
   */
  #refresh(): void {
    const mtime = statSync(this.#meta, { bigint: true }).mtimeNs;
    if (mtime === this.#refreshedAt) return;
    this.#refreshedAt = mtime;
    const onDisk = new Set<number>();
    for (const n of readdirSync(this.#meta)) {
      const m = /^(\d+)\.json$/.exec(n);
      if (!m) continue;
      const id = Number(m[1]);
      onDisk.add(id);
      this.#nextId = Math.max(this.#nextId, id + 1);
      const known = this.#byId.get(id);
      // Committed records never change, nor do ours; another's active one may have been committed since.
      if (known && (known.kind === 'committed' || this.#mine.has(known))) continue;
      const rec = readRecord(this.#meta, id);
      if (!rec) continue;
      if (known && this.#byName.get(known.name) === known) this.#byName.delete(known.name);
      this.#byId.set(id, rec);
      // Two processes may commit the same content under one name; the first one seen stands.
      if (!this.#byName.has(rec.name)) this.#byName.set(rec.name, rec);
    }
    for (const rec of [...this.#byId.values()]) {
      if (onDisk.has(rec.id) || this.#creating.has(rec)) continue;
      this.#byId.delete(rec.id);
      if (this.#byName.get(rec.name) === rec) this.#byName.delete(rec.name);
    }
  }

  /** `#get`, looking on disk for a snapshot another process made since. */
  #find(key: string): SnapshotRecord {
    if (!this.#byName.has(key)) this.#refresh();
    return this.#get(key);
  }

  #hasChildren(rec: SnapshotRecord): boolean {
    for (const r of this.#byId.values()) if (r.parentId === rec.id) return true;
    return false;
  }

  #get(key: string): SnapshotRecord {
    const rec = this.#byName.get(key);
    if (!rec) throw new TbuildError('TB_SNAPSHOT_NOT_FOUND', `snapshot ${JSON.stringify(key)} not found`);
    return rec;
  }

  #fs(id: number): string {
    return join(this.#dir, String(id), 'fs');
  }

  async #create(kind: 'active' | 'view', key: string, parent: string | undefined, labels: Record<string, string>, content?: string): Promise<Mount[]> {
    if (parent !== undefined && !this.#byName.has(parent)) this.#refresh();
    if (this.#byName.has(key) || this.#reserved.has(key)) {
      throw new TbuildError('TB_SNAPSHOT_EXISTS', `snapshot ${JSON.stringify(key)} already exists`);
    }
    let parentRec: SnapshotRecord | undefined;
    if (parent !== undefined) {
      parentRec = this.#get(parent);
      if (parentRec.kind !== 'committed') {
        throw new TbuildError('TB_SNAPSHOT_STATE', `parent ${JSON.stringify(parent)} is ${parentRec.kind}, not committed`);
      }
    }
    const rec: SnapshotRecord = {
      id: this.#nextId++,
      name: key,
      kind,
      ...(parentRec ? { parent: parentRec.name, parentId: parentRec.id } : {}),
      created: new Date().toISOString(),
      labels: { ...labels },
      pid: process.pid,
    };
    // A prepared snapshot is usually committed and described within moments: get the helper
    // that lists its extended attributes started meanwhile.
    if (kind === 'active') warmFsHelper();
    // In the maps before any I/O: the key is taken and the parent cannot be removed meanwhile.
    this.#byId.set(rec.id, rec);
    this.#byName.set(key, rec);
    this.#creating.add(rec);
    this.#mine.add(rec);
    return this.#perKey(key, async () => {
      let claimed = false;
      try {
        await this.#claim(rec, kind === 'active', content);
        claimed = true;
        // Our record is on disk now, so a remover from here on sees the child; one that went before
        // took the parent from under us (this process knew it from its maps): say so, not a failed mount.
        if (parentRec && !existsSync(recordPath(this.#meta, parentRec.id))) {
          this.#refresh();
          throw new TbuildError('TB_SNAPSHOT_NOT_FOUND', `snapshot ${JSON.stringify(parentRec.name)} was removed by another process`);
        }
        return await this.#mountsOf(rec);
      } catch (err) {
        if (this.#byName.get(key) === rec) this.#byName.delete(key);
        if (this.#byId.get(rec.id) === rec) this.#byId.delete(rec.id);
        if (claimed) {
          await unlink(recordPath(this.#meta, rec.id)).catch(() => {});
          await rm(join(this.#dir, String(rec.id)), { recursive: true, force: true }).catch(() => {});
        }
        throw err;
      } finally {
        this.#creating.delete(rec);
      }
    });
  }

  /**
   * Take an id no other process holds: its record first (created exclusively), then its
   * directory. A snapshot that is not kept is swept after a crash whatever its record says, so
   * its record need not reach the disk before we go on; a kept one's must.
   */
  async #claim(rec: SnapshotRecord, active: boolean, content?: string): Promise<void> {
    for (;;) {
      if (await createRecord(this.#meta, rec, KEEP_LABEL in rec.labels)) {
        // no record may stay without its directory
        const made = await makeSnapshotDir(this.#dir, rec.id, active, content).catch((err: unknown) => unlink(recordPath(this.#meta, rec.id)).then(() => Promise.reject(err), () => Promise.reject(err)));
        if (made) return;
        // A directory left under this id by a crash (or being removed right now): skip the id.
        await unlink(recordPath(this.#meta, rec.id)).catch(() => {});
      }
      // Another process took the id: learn what it made, then take the next free one.
      if (this.#byId.get(rec.id) === rec) this.#byId.delete(rec.id);
      this.#refresh();
      rec.id = this.#nextId++;
      this.#byId.set(rec.id, rec);
    }
  }

  prepare(key: string, parent?: string, labels: Record<string, string> = {}, content?: string): Promise<Mount[]> {
    return this.#create('active', key, parent, labels, content);
  }

  view(key: string, parent?: string, labels: Record<string, string> = {}): Promise<Mount[]> {
    return this.#create('view', key, parent, labels);
  }

  async mounts(key: string): Promise<Mount[]> {
    const rec = this.#find(key);
    if (rec.kind === 'committed') {
      throw new TbuildError('TB_SNAPSHOT_STATE', `snapshot ${JSON.stringify(key)} is committed; view or prepare on top of it`);
    }
    return this.#mountsOf(rec);
  }

  async #mountsOf(rec: SnapshotRecord): Promise<Mount[]> {
    const own = join(this.#dir, String(rec.id));
    const lowers = rec.parentId === undefined ? [] : await this.#lowers.of(rec.parentId);
    if (rec.kind === 'active') {
      if (!lowers.length) return [{ type: 'bind', source: this.#fs(rec.id), options: ['rbind', 'rw'] }];
      return [overlayMount(this.#dir, lowers, join(own, 'fs'), join(own, 'work'))];
    }
    if (!lowers.length) return [{ type: 'bind', source: this.#fs(rec.id), options: ['rbind', 'ro'] }];
    if (lowers.length === 1) return [{ type: 'bind', source: lowers[0]!, options: ['rbind', 'ro'] }];
    return [overlayMount(this.#dir, lowers)];
  }

  #idChain(id: number): number[] {
    const out: number[] = [];
    let cur: number | undefined = id;
    while (cur !== undefined) {
      if (!this.#byId.has(cur)) this.#refresh();
      const rec = this.#byId.get(cur);
      if (!rec) throw new TbuildError('TB_SNAPSHOT_NOT_FOUND', `snapshot id ${cur} is missing from the chain of ${id}`);
      out.push(cur);
      cur = rec.parentId;
    }
    return out;
  }

  async commit(name: string, key: string, labels: Record<string, string> = {}, opts: { deferSync?: boolean } = {}): Promise<void> {
    return this.#perKey(key, async () => {
      const rec = this.#get(key);
      if (rec.kind !== 'active') throw new TbuildError('TB_SNAPSHOT_STATE', `snapshot ${JSON.stringify(key)} is ${rec.kind}, not active`);
      this.#refresh();
      if (this.#byName.has(name) || this.#reserved.has(name)) {
        throw new TbuildError('TB_SNAPSHOT_EXISTS', `snapshot ${JSON.stringify(name)} already exists`);
      }
      const { pid: _pid, ...rest } = rec;
      const next: SnapshotRecord = { ...rest, name, kind: 'committed', labels: { ...rec.labels, ...labels } };
      this.#reserved.add(name);
      try {
        // Durable: cache records written after this point name the committed snapshot (with
        // deferSync, once sync() has been called for it).
        await writeRecord(this.#meta, next, !opts.deferSync);
      } finally {
        this.#reserved.delete(name);
      }
      this.#byName.delete(key);
      this.#byName.set(name, next);
      this.#byId.set(next.id, next);
      await rm(join(this.#dir, String(rec.id), 'work'), { recursive: true, force: true });
    });
  }

  async sync(names: readonly string[]): Promise<void> {
    this.#refresh();
    const ids = [...new Set(names)].flatMap((n) => {
      const rec = this.#byName.get(n);
      return rec ? [rec.id] : [];
    });
    if (!ids.length) return;
    // all at once: the journal takes them in one commit; a record already on disk costs little
    await Promise.all(ids.map((id) => fsyncFile(recordPath(this.#meta, id))));
    await fsyncDir(this.#meta);
  }

  async remove(key: string): Promise<void> {
    return this.#perKey(key, async () => {
      // Children made by other processes count too.
      this.#refresh();
      const rec = this.#get(key);
      const parentOfOthers = () => new TbuildError('TB_SNAPSHOT_STATE', `snapshot ${JSON.stringify(key)} is the parent of other snapshots`);
      if (this.#hasChildren(rec)) throw parentOfOthers();
      if (rec.kind !== 'committed') return this.#removeRecord(rec);
      // Only a committed snapshot can be found in the cache or named by an image.
      await this.#leases.removeUnlessHeld(rec.id, rec.name, async () => {
        this.#refresh();
        if (this.#hasChildren(rec)) throw parentOfOthers();
        await this.#removeRecord(rec);
      });
    });
  }

  lease(): SnapshotLease {
    return this.#leases.lease(async (name) => ((await this.exists(name)) ? this.#byName.get(name)?.id : undefined));
  }

  /** Metadata first: once it is gone the directory is an orphan that the next open sweeps. */
  async #removeRecord(rec: SnapshotRecord): Promise<void> {
    // Out of the maps first (synchronously), so no new child can pick it as parent meanwhile.
    this.#byId.delete(rec.id);
    const named = this.#byName.get(rec.name) === rec;
    if (named) this.#byName.delete(rec.name);
    try {
      await unlink(recordPath(this.#meta, rec.id));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.#byId.set(rec.id, rec);
        if (named) this.#byName.set(rec.name, rec);
        throw err;
      }
    }
    await removeSnapshotDir(this.#dir, rec.id);
  }

  async stat(key: string): Promise<SnapshotInfo> {
    return info(this.#find(key));
  }

  async exists(key: string): Promise<boolean> {
    const rec = this.#byName.get(key);
    if (!rec) {
      this.#refresh();
      return this.#byName.has(key);
    }
    // Another process may have removed it since we learned of it (a prune beside our build).
    if (this.#creating.has(rec) || existsSync(recordPath(this.#meta, rec.id))) return true;
    this.#refresh();
    return this.#byName.has(key);
  }

  async usage(key: string): Promise<Usage> {
    const rec = this.#find(key);
    if (rec.kind !== 'committed') return diskUsage(this.#fs(rec.id));
    return committedUsage(this.#dir, rec.id);
  }

  async *walk(): AsyncIterable<SnapshotInfo> {
    this.#refresh();
    for (const rec of [...this.#byId.values()].sort((a, b) => a.id - b.id)) yield info(rec);
  }

  async layerDir(key: string): Promise<string> {
    const dir = this.#fs(this.#find(key).id);
    await access(dir);
    return dir;
  }

  async check(opts: { repair: boolean }): Promise<StoreProblem[]> {
    this.#refresh();
    // a dead remover's mark holds nothing (marked() asks whether its owner lives): just tidy it
    if (opts.repair) await this.#leases.sweepMarks();
    return checkSnapshots(this.#checkTarget(), opts.repair);
  }

  async chain(key: string): Promise<string[]> {
    return this.#idChain(this.#find(key).id).map((id) => this.#byId.get(id)!.name);
  }
}
