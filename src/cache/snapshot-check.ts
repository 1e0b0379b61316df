import { existsSync, readdirSync } from 'node:fs';
import { rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isAbandonedTemp } from '../util/atomic.js';
import { ownerAlive } from '../util/owned-temp.js';
import { processAlive } from '../util/process.js';
import { KEEP_LABEL, recordPath, SPREAD_MARKER, type SnapshotRecord } from './snapshot-records.js';
import type { StoreProblem } from './types.js';

/** What the check needs of the snapshotter: its directories, its records as on disk now, and removal. */
export interface SnapshotCheckTarget {
  dir: string;
  meta: string;
  records(): SnapshotRecord[];
  remove(rec: SnapshotRecord): Promise<void>;
}

/** An active or view snapshot whose maker died and that nothing keeps (a build that crashed). */
function abandoned(rec: SnapshotRecord): boolean {
  return rec.kind !== 'committed' && !(KEEP_LABEL in rec.labels) && !(rec.pid !== undefined && processAlive(rec.pid));
}

/** `.new-…` / `.trash-…` directories name their owner; only a dead owner's may go. */
function deadTempDir(name: string): boolean {
  return name.startsWith('.') && name !== '.' && !ownerAlive(name.slice(1), name.startsWith('.new-') ? 'new' : 'trash');
}

/** A layer directory without a record: records come before directories, so one whose record is not on disk now is nobody's. */
function orphanDir(t: SnapshotCheckTarget, name: string, known: (id: number) => boolean): boolean {
  return /^\d+$/.test(name) && !known(Number(name)) && !existsSync(recordPath(t.meta, Number(name)));
}

/**
 * What every open removes: what crashed processes left (abandoned snapshots, layer directories
 * without records, their temp and trash directories). Best effort: a leftover that cannot be
 * removed now (still mounted by a crashed run) must not stop the open. Returns the highest
 * numeric directory seen, so new ids start above it.
 */
export async function sweepAtOpen(t: SnapshotCheckTarget): Promise<number> {
  const quietly = (p: Promise<unknown>) => p.catch(() => {});
  const recs = t.records();
  const parents = new Set(recs.map((r) => r.parentId));
  for (const rec of recs) if (abandoned(rec) && !parents.has(rec.id)) await quietly(t.remove(rec));
  const ids = new Set(t.records().map((r) => r.id));
  let highest = 0;
  // A half-built flattened copy (.flat-tmp) inside a live snapshot is not swept here: the next
  // flatten of that snapshot clears it first, and removing the snapshot removes it. Checking
  // every snapshot would make each CLI start O(snapshots).
  for (const n of readdirSync(t.dir)) {
    if (/^\d+$/.test(n)) highest = Math.max(highest, Number(n));
    if (deadTempDir(n) || orphanDir(t, n, (id) => ids.has(id))) await quietly(rm(join(t.dir, n), { recursive: true, force: true }));
  }
  return highest;
}

/**
 * The snapshotter's side of `system verify`. Safe beside live processes: what a live process is
 * making (its record exists, or its temp names it) is never reported, and repairs remove only
 * what no record and no live process holds.
 */
export async function checkSnapshots(t: SnapshotCheckTarget, repair: boolean): Promise<StoreProblem[]> {
  const problems: StoreProblem[] = [];
  const fix = async (p: StoreProblem, action: () => Promise<unknown>): Promise<void> => {
    if (repair && p.repairable) {
      await action();
      p.repaired = true;
    }
    problems.push(p);
  };
  const recs = t.records();
  const byId = new Map(recs.map((r) => [r.id, r]));
  const parents = new Set(recs.map((r) => r.parentId).filter((id): id is number => id !== undefined));
  for (const rec of recs) {
    const subject = rec.name;
    if (rec.parentId !== undefined) {
      const parent = byId.get(rec.parentId);
      if (!parent) problems.push({ kind: 'snapshot-parent-missing', subject, detail: `its parent (id ${rec.parentId}, ${rec.parent ?? '?'}) is gone`, repairable: false });
      else if (parent.kind !== 'committed') problems.push({ kind: 'snapshot-parent-state', subject, detail: `its parent ${parent.name} is ${parent.kind}, not committed`, repairable: false });
    }
    if (!existsSync(join(t.dir, String(rec.id), 'fs'))) {
      problems.push({ kind: 'snapshot-dir-missing', subject, detail: `its directory ${join(t.dir, String(rec.id))} is gone`, repairable: false });
    }
    if (abandoned(rec) && !parents.has(rec.id)) {
      await fix({ kind: 'snapshot-abandoned', subject, detail: `${rec.kind} snapshot of a process that is gone (pid ${rec.pid ?? '?'})`, repairable: true }, () => t.remove(rec));
    }
  }
  // Two processes may commit the same layer stack under one name: the first stands, the others
  // are orphans unless something was built on them.
  const byName = new Map<string, SnapshotRecord[]>();
  for (const r of recs) if (r.kind === 'committed') byName.set(r.name, [...(byName.get(r.name) ?? []), r]);
  for (const [name, same] of byName) {
    for (const dup of same.sort((a, b) => a.id - b.id).slice(1)) {
      if (parents.has(dup.id)) continue;
      await fix({ kind: 'snapshot-duplicate', subject: name, detail: `a second copy (id ${dup.id}) of snapshot id ${same[0]!.id}`, repairable: true }, () => t.remove(dup));
    }
  }
  for (const n of readdirSync(t.dir)) {
    const path = join(t.dir, n);
    if (orphanDir(t, n, (id) => byId.has(id))) {
      await fix({ kind: 'snapshot-orphan', subject: path, detail: 'a layer directory without a record', repairable: true }, () => rm(path, { recursive: true, force: true }));
    } else if (deadTempDir(n)) {
      await fix({ kind: 'snapshot-temp', subject: path, detail: 'left by an interrupted create or remove', repairable: true }, () => rm(path, { recursive: true, force: true }));
    }
  }
  for (const n of readdirSync(t.meta)) {
    if (n !== SPREAD_MARKER && isAbandonedTemp(n)) {
      const path = join(t.meta, n);
      await fix({ kind: 'snapshot-temp', subject: path, detail: 'a record write that never finished', repairable: true }, () => unlink(path).catch(() => {}));
    }
  }
  return problems;
}
