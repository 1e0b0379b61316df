import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdirSync, readFileSync } from 'node:fs';
import { rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createFileExclusive, isAbandonedTemp, tempBeside, writeJsonAtomic } from '../util/atomic.js';
import type { SnapshotInfo, SnapshotKind } from './types.js';

/**
 * The snapshotter's metadata on disk: one `<id>.json` per snapshot in `snapshots/metadata`. The
 * in-memory maps and the lifecycle rules live in snapshotter.ts; this file only reads and writes.
 */
export interface SnapshotRecord {
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

/**
 * A label that keeps an active or view snapshot across restarts. Without it, an active or view
 * snapshot found at open time whose creating process has died was left by a build that crashed,
 * and is swept. A container whose rootfs is an active snapshot and that must survive a daemon
 * restart sets this label.
 */
export const KEEP_LABEL = 'tbuild.keep';

/** A failed RUN step's files, kept (committed) for `tbuild debug` until the next build of the root. */
export const DEBUG_LABEL = 'tbuild.debug';

/** In the metadata directory: the snapshots directory has been given the top-directory flag. */
export const SPREAD_MARKER = 'spread';

export function recordPath(meta: string, id: number): string {
  return join(meta, `${id}.json`);
}

/**
 * Every readable record in `meta`. Temp files of interrupted writes are removed; so are damaged
 * records (they are replaced atomically, so a damaged one was hurt from outside and its layer is
 * unusable without it: the caller's sweep reclaims the directory).
 */
export async function loadRecords(meta: string): Promise<SnapshotRecord[]> {
  const out: SnapshotRecord[] = [];
  // Synchronous reads: every CLI command opens the store, and hundreds of tiny files read one by
  // one through the thread pool cost tens of milliseconds more than direct reads.
  for (const n of readdirSync(meta)) {
    const p = join(meta, n);
    if (n === SPREAD_MARKER) continue;
    if (!/^\d+\.json$/.test(n)) {
      // Other processes write records into this directory too: only a dead writer's temp goes.
      if (isAbandonedTemp(n)) await rm(p, { force: true });
      continue;
    }
    try {
      const rec = JSON.parse(readFileSync(p, 'utf8')) as SnapshotRecord;
      if (typeof rec.id !== 'number' || typeof rec.name !== 'string') throw new Error('not a snapshot record');
      out.push(rec);
    } catch {
      await rm(p, { force: true });
    }
  }
  return out;
}

/** Read one record as it is on disk now; undefined when it is gone or unreadable. */
export function readRecord(meta: string, id: number): SnapshotRecord | undefined {
  try {
    const rec = JSON.parse(readFileSync(recordPath(meta, id), 'utf8')) as SnapshotRecord;
    return typeof rec.id === 'number' && typeof rec.name === 'string' ? rec : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Create the record of a new snapshot under its id, only if no process has taken that id: the
 * whole file is written aside and hard-linked into place (link fails if the name exists), so the
 * id is claimed and the record readable in one step. False when the id was taken.
 */
export function createRecord(meta: string, rec: SnapshotRecord, durable: boolean): Promise<boolean> {
  return createFileExclusive(recordPath(meta, rec.id), JSON.stringify(rec, null, 2) + '\n', { durable });
}

/** Replace the record atomically; `durable`: also wait until it is on disk. */
export async function writeRecord(meta: string, rec: SnapshotRecord, durable: boolean): Promise<void> {
  const path = recordPath(meta, rec.id);
  if (durable) return writeJsonAtomic(path, rec);
  const tmp = tempBeside(path);
  try {
    await writeFile(tmp, JSON.stringify(rec, null, 2) + '\n');
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

/** Once per state root (new, or made before this was done): see makeSnapshotDir in snapshot-dirs.ts. */
export async function ensureSpread(dir: string, meta: string): Promise<void> {
  const flagged = join(meta, SPREAD_MARKER);
  if (existsSync(flagged)) return;
  await spreadChildren(dir);
  await writeFile(flagged, '');
}

/**
 * Mark `dir` as an ext4 "top directory" (chattr +T), so ext4 spreads its children over block
 * groups (see makeSnapshotDir in snapshot-dirs.ts). Best effort: other filesystems and a missing chattr
 * change nothing.
 */
function spreadChildren(dir: string): Promise<void> {
  if (!CHATTR) return Promise.resolve();
  return new Promise((resolve) => {
    execFile(CHATTR, ['+T', dir], { timeout: 5000 }, () => resolve());
  });
}

const CHATTR = ['/usr/bin/chattr', '/bin/chattr', '/sbin/chattr'].find((p) => existsSync(p));

export function info(rec: SnapshotRecord): SnapshotInfo {
  return {
    name: rec.name,
    ...(rec.parent !== undefined ? { parent: rec.parent } : {}),
    kind: rec.kind,
    created: rec.created,
    labels: { ...rec.labels },
  };
}
