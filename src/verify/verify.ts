import { createHash } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import PQueue from 'p-queue';
import type { BlobInfo } from '../cache/types.js';
import { findDeadScratch, removeDeadScratch } from './scratch.js';
import { processAlive } from '../util/process.js';
import type { StoreProblem, VerifyOptions, VerifyReport, VerifyTarget } from './types.js';

/**
 * `system verify`: every blob against its digest, the snapshotter's and the image store's own
 * checks, cache records against their snapshots, and state left by processes that are gone
 * (scratch directories, mounts in them, content ingests). Runs beside live processes: only what
 * a dead process left, or what nothing refers to, is reported as an orphan and repaired.
 */
export async function verifyStore(t: VerifyTarget, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const started = process.hrtime.bigint();
  const repair = opts.repair ?? false;
  const problems: StoreProblem[] = [];
  const { blobs, blobBytes } = await checkBlobs(t, problems);
  problems.push(...(await t.snapshots.check({ repair })));
  problems.push(...(await t.images.check({ repair })));
  const cacheRecords = await checkCacheRecords(t, repair, problems);
  await checkScratch(t.root, repair, problems);
  let snapshots = 0;
  for await (const _ of t.snapshots.walk()) snapshots++;
  return {
    problems,
    blobs,
    blobBytes,
    snapshots,
    images: await t.images.count(),
    cacheRecords,
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
  };
}

/** Hash every blob (two at a time: one reads while the other hashes). */
async function checkBlobs(t: VerifyTarget, problems: StoreProblem[]): Promise<{ blobs: number; blobBytes: number }> {
  const queue = new PQueue({ concurrency: 2 });
  let blobs = 0;
  let blobBytes = 0;
  const one = async (b: BlobInfo): Promise<void> => {
    const hash = createHash('sha256');
    let size = 0;
    try {
      await pipeline(
        t.content.createReadStream(b.digest),
        new Writable({
          highWaterMark: 1 << 20,
          write(chunk: Buffer, _enc, cb) {
            hash.update(chunk);
            size += chunk.length;
            cb();
          },
        }),
      );
    } catch (err) {
      // Removed while we walked (a prune beside us) is not a problem.
      if ((err as { code?: string }).code === 'TB_CONTENT_NOT_FOUND') return;
      throw err;
    }
    blobs++;
    blobBytes += size;
    const actual = `sha256:${hash.digest('hex')}`;
    if (actual !== b.digest) {
      problems.push({ kind: 'blob-digest', subject: b.digest, detail: `its content hashes to ${actual}`, repairable: false });
    }
  };
  for await (const b of t.content.walk()) {
    await queue.onSizeLessThan(4);
    void queue.add(() => one(b));
  }
  await queue.onIdle();
  return { blobs, blobBytes };
}

/** A cache record whose snapshot is gone can never hit: it is an orphan. */
async function checkCacheRecords(t: VerifyTarget, repair: boolean, problems: StoreProblem[]): Promise<number> {
  let n = 0;
  const stale = [];
  for await (const r of t.cacheIndex.walk()) {
    n++;
    if (r.snapshot !== undefined && !(await t.snapshots.exists(r.snapshot))) stale.push(r);
  }
  for (const r of stale) {
    const p: StoreProblem = { kind: 'cache-record-stale', subject: r.key, detail: `its snapshot ${r.snapshot} is gone`, repairable: true };
    if (repair) {
      await t.cacheIndex.delete(r.key);
      p.repaired = true;
    }
    problems.push(p);
  }
  return n;
}

async function checkScratch(root: string, repair: boolean, problems: StoreProblem[]): Promise<void> {
  for (const s of await findDeadScratch(root)) {
    const n = s.mounts.length;
    const p: StoreProblem = {
      kind: n ? 'mount-orphan' : 'temp-orphan',
      subject: s.path,
      detail: `${s.what} left by a process that is gone${n ? `, with ${n} mount${n > 1 ? 's' : ''} still in it` : ''}`,
      repairable: true,
    };
    if (repair) {
      await removeDeadScratch(s);
      p.repaired = true;
    }
    problems.push(p);
  }
  // Content ingests are named `<pid>-…` by the content store.
  const ingest = join(root, 'content', 'ingest');
  for (const name of await readdir(ingest).catch(() => [] as string[])) {
    const pid = Number(name.split('-')[0]);
    if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) continue;
    const path = join(ingest, name);
    const p: StoreProblem = { kind: 'temp-orphan', subject: path, detail: 'a blob write left by a process that is gone', repairable: true };
    if (repair) {
      await rm(path, { force: true });
      p.repaired = true;
    }
    problems.push(p);
  }
}
