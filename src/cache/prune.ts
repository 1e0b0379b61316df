import { statfs } from 'node:fs/promises';
import type { CacheIndex, Snapshotter } from './types.js';
import { isTbuildError } from '../errors.js';

/** The automatic GC's size when none is configured: 10% of the filesystem holding `root`, at most 20 GB. */
export async function defaultKeepStorage(root: string): Promise<number> {
  const fs = await statfs(root);
  return Math.min(Math.floor(fs.blocks * fs.bsize * 0.1), 20e9);
}

export interface BuildCachePruneOptions {
  /** Every build result no image or container uses; without it, only results no cache record points at. */
  all?: boolean;
  /** Only what was last used (or made) longer ago than this many milliseconds. */
  olderThanMs?: number;
  /** Keep the most recently used results while they fit in this many bytes. */
  keepBytes?: number;
  /** Snapshot names that must stay, with everything below them (images' and containers' layers). */
  keep: Iterable<string>;
  /** Results made after this time (ms) stay: builds still running may not have recorded them yet. */
  protectCreatedAfter?: number;
  now?: number;
}

export interface BuildCachePruned {
  /** Snapshot names removed. */
  removed: string[];
  /** Cache records dropped because their result was removed. */
  records: number;
  spaceReclaimed: number;
}

/**
 * Free build cache: committed snapshots that no image, container or kept result stands on. A result
 * another one is built on goes only with it (children are removed before their parents), and its
 * cache records go with it, so a later build runs the step again instead of finding a hole.
 */
export async function pruneBuildCache(snapshots: Snapshotter, cacheIndex: CacheIndex, opts: BuildCachePruneOptions): Promise<BuildCachePruned> {
  const now = opts.now ?? Date.now();
  const records = new Map<string, { keys: string[]; lastUsed: number }>();
  // records of imported results known by identity only hold no files: they go with `all`
  const identities: string[] = [];
  for await (const r of cacheIndex.walk()) {
    // (and the small records of what a step read, kept for miss reasons)
    if (!r.snapshot && (r.meta?.identity === true || r.meta?.reads !== undefined)) identities.push(r.key);
    if (!r.snapshot) continue;
    const e = records.get(r.snapshot) ?? { keys: [], lastUsed: 0 };
    e.keys.push(r.key);
    e.lastUsed = Math.max(e.lastUsed, Date.parse(r.lastUsed ?? r.created) || 0);
    records.set(r.snapshot, e);
  }
  const committed = new Map<string, { parent?: string; created: number }>();
  const pinned = new Set<string>();
  for await (const s of snapshots.walk()) {
    if (s.kind === 'committed') {
      committed.set(s.name, { parent: s.parent, created: Date.parse(s.created) || 0 });
      // a container's init layer goes with its container, never with the build cache
      if (s.labels['tbuild.container']) pinned.add(s.name);
    } else if (s.parent) {
      // what is being written or looked at right now stands on its parent
      pinned.add(s.parent);
    }
  }
  const needed = new Set<string>();
  const stand = (name: string | undefined): void => {
    for (let n = name; n !== undefined && !needed.has(n); n = committed.get(n)?.parent) needed.add(n);
  };
  for (const k of opts.keep) stand(k);
  for (const p of pinned) stand(p);

  const lastUsed = (name: string) => Math.max(records.get(name)?.lastUsed ?? 0, committed.get(name)?.created ?? 0);
  let candidates = [...committed.keys()].filter((n) => !needed.has(n));
  if (!opts.all) candidates = candidates.filter((n) => !records.has(n));
  if (opts.protectCreatedAfter !== undefined) candidates = candidates.filter((n) => (committed.get(n)?.created ?? 0) < opts.protectCreatedAfter!);
  if (opts.olderThanMs !== undefined) candidates = candidates.filter((n) => now - lastUsed(n) > opts.olderThanMs!);
  if (opts.keepBytes !== undefined) {
    // newest first: keep while they fit, the rest go
    const sized = await Promise.all(candidates.map(async (n) => ({ n, size: (await snapshots.usage(n).catch(() => ({ size: 0 }))).size })));
    sized.sort((a, b) => lastUsed(b.n) - lastUsed(a.n));
    let kept = 0;
    const go: string[] = [];
    for (const { n, size } of sized) {
      if (kept + size <= opts.keepBytes) kept += size;
      else go.push(n);
    }
    candidates = go;
  }
  // A candidate some kept snapshot stands on must stay too.
  const going = new Set(candidates);
  for (const n of committed.keys()) if (!going.has(n)) stand(n);
  const removable = candidates.filter((n) => !needed.has(n));
  // children before parents: deepest first
  const depth = (n: string): number => {
    let d = 0;
    for (let p = committed.get(n)?.parent; p !== undefined; p = committed.get(p)?.parent) d++;
    return d;
  };
  removable.sort((a, b) => depth(b) - depth(a));
  const out: BuildCachePruned = { removed: [], records: 0, spaceReclaimed: 0 };
  for (const n of removable) {
    const size = (await snapshots.usage(n).catch(() => ({ size: 0 }))).size;
    try {
      await snapshots.remove(n);
    } catch (err) {
      // Another process built on it, or removed it, since we looked: it is not ours to take now.
      if (isTbuildError(err, 'TB_SNAPSHOT_STATE') || isTbuildError(err, 'TB_SNAPSHOT_NOT_FOUND')) continue;
      throw err;
    }
    // After the snapshot: a crash in between leaves records that miss, never a hit on nothing.
    for (const key of records.get(n)?.keys ?? []) {
      await cacheIndex.delete(key as never);
      out.records++;
    }
    out.removed.push(n);
    out.spaceReclaimed += size;
  }
  if (opts.all && opts.olderThanMs === undefined && opts.keepBytes === undefined) {
    for (const key of identities) {
      await cacheIndex.delete(key as never);
      out.records++;
    }
  }
  return out;
}
