import type { CacheIndex, ContentStore, Snapshotter, StoreProblem } from '../cache/types.js';

export type { StoreProblem };

/** `tbuild system verify [--repair]`: what was checked and what was found. */
export interface VerifyReport {
  problems: StoreProblem[];
  blobs: number;
  /** Bytes of blob content read and hashed. */
  blobBytes: number;
  snapshots: number;
  images: number;
  cacheRecords: number;
  seconds: number;
}

export interface VerifyOptions {
  /** Remove the orphans found (problems marked `repairable`). */
  repair?: boolean;
}

/** What the check reads: the stores of one state root. */
export interface VerifyTarget {
  root: string;
  content: ContentStore;
  snapshots: Snapshotter;
  cacheIndex: CacheIndex;
  /** The image store's own check (names, records, their blobs and snapshots). */
  images: { check(opts: { repair: boolean }): Promise<StoreProblem[]>; count(): Promise<number> };
}
