import { mkdir, readdir, readFile, rm, unlink, rename, access, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TbuildError } from '../errors.js';
import { writeJsonAtomic, fsyncDir } from '../util/atomic.js';
import { MAX_MOUNT_OPTIONS } from '../util/mount.js';
import { diskUsage } from './usage.js';
import { mergeLayers } from './flatten.js';
import { processAlive } from './pid.js';
import type { Mount, SnapshotInfo, SnapshotKind, Snapshotter, Usage } from './types.js';

/**
 * A label that keeps an active or view snapshot across restarts. Without it, an active or view
 * snapshot found at open time whose creating process has died was left by a build that crashed,
 * and is swept. A container whose rootfs is an active snapshot and that must survive a daemon
 * restart sets this label.
 */
export const KEEP_LABEL = 'tbuild.keep';

/** Chains up to this depth are mounted layer by layer; deeper ones get flattened prefixes. */
export const MAX_DIRECT_LAYERS = 64;
/** Flattened prefixes end at depths that are multiples of this, so each is built once and reused. */
export const FLATTEN_STEP = 32;

/** Overlay options we always pass, so behaviour does not depend on the kernel's defaults:
 * no inode index (upper/lower pairs change between mounts), no redirects or metacopy (a layer
 * tar cannot express them; without them a directory rename copies up, which a tar can). */
const OVERLAY_FIXED = ['index=off', 'redirect_dir=off', 'metacopy=off'];

interface SnapshotRecord {
  id: number;
  name: string;
  kind: SnapshotKind;
  parent?: string;
  parentId?: number;
  created: string;
  labels: Record<string, string>;
  /** The process that made an active or view snapshot: only a dead one's are swept. */
  pid?: number;
}

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
  readonly #busy = new Map<string, Promise<void>>();
  readonly #flattening = new Map<number, Promise<string>>();

  constructor(dir: string) {
    this.#dir = dir;
    this.#meta = join(dir, 'metadata');
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
    const made = await mkdir(this.#meta, { recursive: true });
    if (made !== undefined && made !== this.#meta) await spreadChildren(this.#dir);
    for (const n of await readdir(this.#meta)) {
      const p = join(this.#meta, n);
      if (!/^\d+\.json$/.test(n)) {
        await rm(p, { force: true }); // a temp file from an interrupted atomic write
        continue;
      }
      let rec: SnapshotRecord;
      try {
        rec = JSON.parse(await readFile(p, 'utf8')) as SnapshotRecord;
        if (typeof rec.id !== 'number' || typeof rec.name !== 'string') throw new Error('not a snapshot record');
      } catch {
        // Records are replaced atomically, so this one was damaged from outside. Its layer is
        // unusable without it: drop it and let the sweep reclaim the directory.
        await rm(p, { force: true });
        continue;
      }
      this.#byId.set(rec.id, rec);
      this.#byName.set(rec.name, rec);
      this.#nextId = Math.max(this.#nextId, rec.id + 1);
    }
    await this.#sweep();
  }

  /** Best effort: a leftover that cannot be removed now (still mounted by a crashed run) must not stop the open. */
  async #sweep(): Promise<void> {
    const quietly = (p: Promise<unknown>) => p.catch(() => {});
    for (const rec of [...this.#byId.values()]) {
      const owned = rec.pid !== undefined && processAlive(rec.pid);
      if (rec.kind !== 'committed' && !(KEEP_LABEL in rec.labels) && !owned && !this.#hasChildren(rec)) {
        await quietly(this.#removeRecord(rec));
      }
    }
    // Directories with no metadata: a prepare or remove interrupted half way.
    for (const n of await readdir(this.#dir)) {
      if (!/^\d+$/.test(n)) {
        if (n.startsWith('.')) await quietly(rm(join(this.#dir, n), { recursive: true, force: true }));
        continue;
      }
      const id = Number(n);
      this.#nextId = Math.max(this.#nextId, id + 1);
      if (!this.#byId.has(id)) await quietly(rm(join(this.#dir, n), { recursive: true, force: true }));
      else await quietly(rm(join(this.#dir, n, '.flat-tmp'), { recursive: true, force: true }));
    }
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

  async #create(kind: 'active' | 'view', key: string, parent: string | undefined, labels: Record<string, string>): Promise<Mount[]> {
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
    // In the maps before any I/O: the key is taken and the parent cannot be removed meanwhile.
    this.#byId.set(rec.id, rec);
    this.#byName.set(key, rec);
    return this.#perKey(key, async () => {
      try {
        await this.#makeDirs(rec, kind === 'active');
        // A snapshot that is not kept is swept after a crash whatever its record says, so its
        // record need not reach the disk before we go on; a kept one's must.
        await this.#write(rec, KEEP_LABEL in rec.labels);
        return await this.#mountsOf(rec);
      } catch (err) {
        if (this.#byName.get(key) === rec) this.#byName.delete(key);
        this.#byId.delete(rec.id);
        await rm(join(this.#dir, String(rec.id)), { recursive: true, force: true }).catch(() => {});
        throw err;
      }
    });
  }

  /**
   * The snapshot's directory, made under a random name and renamed into place. On ext4 the
   * snapshots directory carries the Orlov "top directory" flag, so each new child lands in a block
   * group picked from a hash of its name: a random name puts every layer's files in a fresh group,
   * not in one where many inodes were deleted in the last minutes (which ext4 without a journal
   * scans past on every create, making a 5,000-file COPY take seconds instead of a tenth).
   */
  async #makeDirs(rec: SnapshotRecord, active: boolean): Promise<void> {
    const tmp = join(this.#dir, `.new-${randomBytes(8).toString('hex')}`);
    await mkdir(tmp);
    try {
      await mkdir(join(tmp, 'fs'));
      if (active) await mkdir(join(tmp, 'work'));
      for (;;) {
        try {
          await rename(tmp, join(this.#dir, String(rec.id)));
          return;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw err;
        }
        // Another process left a directory under this id: take the next free one.
        this.#byId.delete(rec.id);
        rec.id = this.#nextId++;
        this.#byId.set(rec.id, rec);
      }
    } catch (err) {
      await rm(tmp, { recursive: true, force: true }).catch(() => {});
      throw err;
    }
  }

  /** Replace the record atomically; `durable`: also wait until it is on disk. */
  async #write(rec: SnapshotRecord, durable: boolean): Promise<void> {
    const path = join(this.#meta, `${rec.id}.json`);
    if (durable) return writeJsonAtomic(path, rec);
    const tmp = join(this.#meta, `.${rec.id}.json.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await writeFile(tmp, JSON.stringify(rec, null, 2) + '\n');
      await rename(tmp, path);
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw err;
    }
  }

  prepare(key: string, parent?: string, labels: Record<string, string> = {}): Promise<Mount[]> {
    return this.#create('active', key, parent, labels);
  }

  view(key: string, parent?: string, labels: Record<string, string> = {}): Promise<Mount[]> {
    return this.#create('view', key, parent, labels);
  }

  async mounts(key: string): Promise<Mount[]> {
    const rec = this.#get(key);
    if (rec.kind === 'committed') {
      throw new TbuildError('TB_SNAPSHOT_STATE', `snapshot ${JSON.stringify(key)} is committed; view or prepare on top of it`);
    }
    return this.#mountsOf(rec);
  }

  async #mountsOf(rec: SnapshotRecord): Promise<Mount[]> {
    const own = join(this.#dir, String(rec.id));
    const lowers = rec.parentId === undefined ? [] : await this.#lowerDirs(rec.parentId);
    if (rec.kind === 'active') {
      if (!lowers.length) return [{ type: 'bind', source: this.#fs(rec.id), options: ['rbind', 'rw'] }];
      return [this.#overlay(lowers, join(own, 'fs'), join(own, 'work'))];
    }
    if (!lowers.length) return [{ type: 'bind', source: this.#fs(rec.id), options: ['rbind', 'ro'] }];
    if (lowers.length === 1) return [{ type: 'bind', source: lowers[0]!, options: ['rbind', 'ro'] }];
    return [this.#overlay(lowers)];
  }

  /**
   * One overlay mount. Absolute paths when they fit in a page; otherwise paths relative to the
   * snapshots directory with `cwd` set (a numeric id keeps each lowerdir to a few bytes).
   */
  #overlay(lowers: string[], upper?: string, work?: string): Mount {
    const build = (rel: boolean): string[] => {
      const p = (x: string) => (rel ? x.slice(this.#dir.length + 1) : x);
      const opts = [`lowerdir=${lowers.map(p).join(':')}`];
      if (upper && work) opts.push(`upperdir=${p(upper)}`, `workdir=${p(work)}`);
      return [...opts, ...OVERLAY_FIXED];
    };
    const abs = build(false);
    if (abs.join(',').length <= MAX_MOUNT_OPTIONS) return { type: 'overlay', source: 'overlay', options: abs };
    const rel = build(true);
    if (rel.join(',').length > MAX_MOUNT_OPTIONS) {
      throw new TbuildError('TB_MOUNT', `overlay options for ${lowers.length} layers exceed one page even with relative paths`);
    }
    return { type: 'overlay', source: 'overlay', options: rel, cwd: this.#dir };
  }

  #idChain(id: number): number[] {
    const out: number[] = [];
    let cur: number | undefined = id;
    while (cur !== undefined) {
      const rec = this.#byId.get(cur);
      if (!rec) throw new TbuildError('TB_SNAPSHOT_NOT_FOUND', `snapshot id ${cur} is missing from the chain of ${id}`);
      out.push(cur);
      cur = rec.parentId;
    }
    return out;
  }

  /**
   * Lower directories (top first) for a mount on top of committed snapshot `id`. A chain deeper
   * than MAX_DIRECT_LAYERS is cut at the nearest FLATTEN_STEP boundary below it: the layers above
   * the cut stay separate, everything below is one flattened copy, built once and kept in the
   * boundary snapshot's directory.
   */
  async #lowerDirs(id: number): Promise<string[]> {
    const chain = this.#idChain(id);
    const depth = chain.length;
    if (depth <= MAX_DIRECT_LAYERS) return chain.map((i) => this.#fs(i));
    const boundaryDepth = Math.floor((depth - 1) / FLATTEN_STEP) * FLATTEN_STEP;
    const above = chain.slice(0, depth - boundaryDepth);
    const boundaryId = chain[depth - boundaryDepth]!;
    return [...above.map((i) => this.#fs(i)), await this.#flat(boundaryId)];
  }

  /** The flattened copy of the whole chain ending at committed snapshot `id` (cached on disk). */
  #flat(id: number): Promise<string> {
    let p = this.#flattening.get(id);
    if (!p) {
      p = this.#buildFlat(id).finally(() => this.#flattening.delete(id));
      this.#flattening.set(id, p);
    }
    return p;
  }

  async #buildFlat(id: number): Promise<string> {
    const dest = join(this.#dir, String(id), 'flat');
    if (existsSync(dest)) return dest;
    const chain = this.#idChain(id);
    const depth = chain.length;
    let base: string | undefined;
    let layers: number[];
    if (depth <= MAX_DIRECT_LAYERS) {
      layers = chain;
    } else {
      const prevDepth = depth - FLATTEN_STEP;
      base = await this.#flat(chain[depth - prevDepth]!);
      layers = chain.slice(0, depth - prevDepth);
    }
    const tmp = join(this.#dir, String(id), '.flat-tmp');
    await rm(tmp, { recursive: true, force: true });
    await mergeLayers(base, layers.reverse().map((i) => this.#fs(i)), tmp);
    await rename(tmp, dest);
    await fsyncDir(join(this.#dir, String(id)));
    return dest;
  }

  async commit(name: string, key: string, labels: Record<string, string> = {}): Promise<void> {
    return this.#perKey(key, async () => {
      const rec = this.#get(key);
      if (rec.kind !== 'active') throw new TbuildError('TB_SNAPSHOT_STATE', `snapshot ${JSON.stringify(key)} is ${rec.kind}, not active`);
      if (this.#byName.has(name) || this.#reserved.has(name)) {
        throw new TbuildError('TB_SNAPSHOT_EXISTS', `snapshot ${JSON.stringify(name)} already exists`);
      }
      const { pid: _pid, ...rest } = rec;
      const next: SnapshotRecord = { ...rest, name, kind: 'committed', labels: { ...rec.labels, ...labels } };
      this.#reserved.add(name);
      try {
        // Durable: cache records written after this point name the committed snapshot.
        await this.#write(next, true);
      } finally {
        this.#reserved.delete(name);
      }
      this.#byName.delete(key);
      this.#byName.set(name, next);
      this.#byId.set(next.id, next);
      await rm(join(this.#dir, String(rec.id), 'work'), { recursive: true, force: true });
    });
  }

  async remove(key: string): Promise<void> {
    return this.#perKey(key, async () => {
      const rec = this.#get(key);
      if (this.#hasChildren(rec)) {
        throw new TbuildError('TB_SNAPSHOT_STATE', `snapshot ${JSON.stringify(key)} is the parent of other snapshots`);
      }
      await this.#removeRecord(rec);
    });
  }

  /** Metadata first: once it is gone the directory is an orphan that the next open sweeps. */
  async #removeRecord(rec: SnapshotRecord): Promise<void> {
    // Out of the maps first (synchronously), so no new child can pick it as parent meanwhile.
    this.#byId.delete(rec.id);
    this.#byName.delete(rec.name);
    try {
      await unlink(join(this.#meta, `${rec.id}.json`));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.#byId.set(rec.id, rec);
        this.#byName.set(rec.name, rec);
        throw err;
      }
    }
    const dir = join(this.#dir, String(rec.id));
    // Renamed aside first so a crash mid-delete leaves a dot-dir the next open sweeps, never a
    // half-deleted directory under a live id.
    const trash = join(this.#dir, `.trash-${rec.id}-${randomBytes(4).toString('hex')}`);
    await rename(dir, trash).catch(() => {});
    await rm(trash, { recursive: true, force: true });
  }

  async stat(key: string): Promise<SnapshotInfo> {
    return info(this.#get(key));
  }

  async exists(key: string): Promise<boolean> {
    return this.#byName.has(key);
  }

  async usage(key: string): Promise<Usage> {
    return diskUsage(this.#fs(this.#get(key).id));
  }

  async *walk(): AsyncIterable<SnapshotInfo> {
    for (const rec of [...this.#byId.values()].sort((a, b) => a.id - b.id)) yield info(rec);
  }

  async layerDir(key: string): Promise<string> {
    const dir = this.#fs(this.#get(key).id);
    await access(dir);
    return dir;
  }

  async chain(key: string): Promise<string[]> {
    return this.#idChain(this.#get(key).id).map((id) => this.#byId.get(id)!.name);
  }
}

/**
 * Mark `dir` as an ext4 "top directory" (chattr +T), so ext4 spreads its children over block
 * groups (see #makeDirs). Best effort: other filesystems and a missing chattr change nothing.
 */
function spreadChildren(dir: string): Promise<void> {
  return new Promise((resolve) => {
    execFile('chattr', ['+T', dir], { timeout: 5000 }, () => resolve());
  });
}

function info(rec: SnapshotRecord): SnapshotInfo {
  return {
    name: rec.name,
    ...(rec.parent !== undefined ? { parent: rec.parent } : {}),
    kind: rec.kind,
    created: rec.created,
    labels: { ...rec.labels },
  };
}
