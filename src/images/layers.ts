import { verifyingStream } from '../util/verify-stream.js';
import { streamSink } from '../util/stream-sink.js';
import { PassThrough, type Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import PQueue from 'p-queue';
import { ownedName, sweepDeadOwners } from '../util/owned-temp.js';
import type { BlobInfo, ContentStore, LayerConverter, LayerDescriptor, Snapshotter, IngestWriter } from '../cache/types.js';
import type { ImageLayer } from './types.js';
import { isDigest, sha256, type Digest } from '../util/digest.js';
import { TbuildError, isTbuildError } from '../errors.js';
import { decompress } from './decompress.js';

/** The storage parts the image store and the archive formats work with. */
export interface LayerParts {
  content: ContentStore;
  snapshots: Snapshotter;
  layers: LayerConverter;
}

/** Label on the temporary snapshots a layer import prepares, so a crashed import can be swept. */
export const IMPORT_LABEL = 'tbuild.image-store/importing';

/** OCI chain IDs: ChainID(L0) = DiffID(L0); ChainID(L0..n) = sha256(ChainID(L0..n-1) + " " + DiffID(Ln)). */
export function chainIds(diffIds: readonly Digest[]): Digest[] {
  const out: Digest[] = [];
  for (const d of diffIds) out.push(out.length === 0 ? d : sha256(`${out[out.length - 1]} ${d}`));
  return out;
}

export function nextChainId(parent: Digest | undefined, diffId: Digest): Digest {
  return parent === undefined ? diffId : sha256(`${parent} ${diffId}`);
}

/** Name of the committed snapshot holding a layer stack: its chain id, so equal stacks are shared. */
export function layerSnapshotName(chainId: Digest): string {
  return chainId;
}

export function isLayerSnapshotName(name: string): boolean {
  return isDigest(name);
}

export interface ImportOptions {
  /**
   * Keep each layer's uncompressed tar as a blob (default). Without it only the snapshots are
   * made, and `exportLayer` makes the tar again from them (checked against the diffID): for build
   * cache, whose layers were made by the same tar writer and come back byte for byte.
   */
  keepBlobs?: boolean;
}

export interface LayerSource {
  /** The layer's diffID when known (archives, pulls): the uncompressed stream must hash to it. */
  diffId?: Digest;
  /** Opened only when the layer is not already present. Plain, gzip, bzip2, xz or zstd. */
  open(): Readable | Promise<Readable>;
}

/** What an import created, so a failure can undo exactly that. */
interface Undo {
  snapshots: string[];
  blobs: Digest[];
}

/** Feed one stream to several consumers with backpressure. */
async function fanOut(input: Readable, sinks: Array<{ push(chunk: Buffer): Promise<void> }>): Promise<void> {
  for await (const chunk of input) {
    const c = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    // both consumers at once: the blob write and the extraction overlap instead of taking turns
    await Promise.all(sinks.map((s) => s.push(c)));
  }
}

function tmpKey(): string {
  return `import-${randomBytes(8).toString('hex')}`;
}

/**
 * Apply layer tars bottom-up, each onto a new snapshot on top of the previous one, committed under
 * its chain id (skipped when that snapshot exists). The uncompressed tar is also kept as a blob
 * named by its diffID, so `save`/`push` give back the exact bytes the diffIDs promise.
 * Without a known diffID (import), the layer is the tar regenerated from what was applied.
 * On failure everything this call created is removed again.
 */
export async function importLayers(parts: LayerParts, sources: readonly LayerSource[], opts: ImportOptions = {}): Promise<ImageLayer[]> {
  const keepBlobs = opts.keepBlobs ?? true;
  const undo: Undo = { snapshots: [], blobs: [] };
  const out: ImageLayer[] = [];
  let parentChain: Digest | undefined;
  let parentSnap: string | undefined;
  try {
    for (const src of sources) {
      const layer = src.diffId
        ? await importKnown(parts, src, src.diffId, parentChain, parentSnap, undo, keepBlobs)
        : await importUnknown(parts, src, parentChain, parentSnap, undo);
      parentChain = nextChainId(parentChain, layer.diffId);
      parentSnap = layer.snapshot;
      out.push(layer);
    }
    // a stack found here may be another process's, committed without a flush yet
    await parts.snapshots.sync(out.map((l) => l.snapshot));
    return out;
  } catch (err) {
    await rollback(parts, undo);
    throw err;
  }
}

async function rollback(parts: LayerParts, undo: Undo): Promise<void> {
  for (const s of [...undo.snapshots].reverse()) await parts.snapshots.remove(s).catch(() => {});
  for (const b of undo.blobs) await parts.content.delete(b).catch(() => {});
}

async function importKnown(
  parts: LayerParts,
  src: LayerSource,
  diffId: Digest,
  parentChain: Digest | undefined,
  parentSnap: string | undefined,
  undo: Undo,
  keepBlob: boolean,
): Promise<ImageLayer> {
  const name = layerSnapshotName(nextChainId(parentChain, diffId));
  const haveSnap = await parts.snapshots.exists(name);
  const blob = await parts.content.info(diffId);
  if (haveSnap && blob) return { diffId, size: blob.size, snapshot: name };
  if (haveSnap && !keepBlob) return { diffId, size: await layerSize(parts, name, diffId), snapshot: name };

  const { stream } = await decompress(await src.open());
  let writer: IngestWriter | undefined;
  let key: string | undefined;
  let applying: Promise<unknown> | undefined;
  try {
    const sinks: Array<{ push(chunk: Buffer): Promise<void> }> = [];
    if (!blob && keepBlob) {
      writer = await parts.content.writer({ expected: diffId });
      const w = writer;
      sinks.push({ push: (c) => w.write(c) });
    }
    let applied: Promise<{ diffId: Digest; size: number }> | undefined;
    let pt: PassThrough | undefined;
    if (!haveSnap) {
      key = tmpKey();
      await parts.snapshots.prepare(key, parentSnap, { [IMPORT_LABEL]: '1' });
      const dir = await parts.snapshots.layerDir(key);
      pt = new PassThrough();
      applied = parts.layers.applyTar(pt, dir, { allowDevices: true });
      applying = applied;
      // A refused layer (hostile entry, bad tar) stops the copy instead of reading it to the end.
      let applyErr: unknown;
      applied.catch((err: unknown) => {
        applyErr = err;
      });
      const sink = streamSink(pt);
      sinks.push({
        push: async (c) => {
          if (applyErr !== undefined) throw applyErr;
          await sink.push(c);
        },
      });
    }
    try {
      await fanOut(stream, sinks);
    } catch (err) {
      pt?.destroy();
      throw err;
    }
    pt?.end();
    if (applied) {
      const got = await applied;
      if (got.diffId !== diffId) {
        throw new TbuildError('TB_ARCHIVE_INVALID', `layer content does not match its diffID: want ${diffId}, got ${got.diffId}`);
      }
    }
    let info: BlobInfo | undefined = blob;
    if (!info && !writer) info = { digest: diffId, size: applied ? (await applied).size : 0 };
    if (writer) {
      info = await writer.commit().catch((err: unknown) => {
        throw isTbuildError(err, 'TB_CONTENT_DIGEST_MISMATCH')
          ? new TbuildError('TB_ARCHIVE_INVALID', `layer content does not match its diffID ${diffId}`, { cause: err })
          : err;
      });
      writer = undefined;
      undo.blobs.push(diffId);
    }
    if (key) {
      await commitOrDrop(parts, name, key, undo);
      key = undefined;
    }
    return { diffId, size: info!.size, snapshot: name };
  } catch (err) {
    stream.destroy();
    await writer?.abort().catch(() => {});
    // the extraction may still be writing into the snapshot: let it stop before removing it
    await applying?.catch(() => {});
    if (key) await parts.snapshots.remove(key).catch(() => {});
    throw err;
  }
}

/** One layer of `unpackLayers`. */
export interface UnpackSource {
  diffId: Digest;
  /** Whether a stack already here up to this layer serves (default: yes). */
  reuse?: boolean;
  /** Extract the layer into `dir`, a new directory on the store's filesystem. */
  extract(dir: string): Promise<LayerDescriptor>;
}

/**
 * Unpack layers all at once (`concurrency` at a time), each into a scratch directory of its own
 * under `scratchRoot` (on the snapshotter's filesystem), each checked against its diffID, then
 * stack them in order (`stackLayers`). Unlike `importLayers`, no layer waits for the one below
 * it: a pull or a cache import unpacks while it downloads, on as many cores as there are layers.
 * Nothing is kept but the snapshots; on failure those made here are removed.
 */
export async function unpackLayers(
  parts: LayerParts,
  scratchRoot: string,
  sources: readonly UnpackSource[],
  opts: {
    concurrency?: number;
    /** Sizes of layer snapshots the caller knows (from its images), by snapshot name. */
    knownSizes?: ReadonlyMap<string, number>;
    /** Awaited once every layer is extracted, before any becomes a snapshot: what the caller still finishes (a pull's blob commits) can fail the unpack while nothing is stacked. */
    beforeStack?: () => Promise<unknown>;
  } = {},
): Promise<ImageLayer[]> {
  const concurrency = opts.concurrency ?? 3;
  const names: string[] = [];
  const reusable: boolean[] = [];
  let chain: Digest | undefined;
  for (const src of sources) {
    chain = nextChainId(chain, src.diffId);
    names.push(layerSnapshotName(chain));
    reusable.push(src.reuse !== false && (await parts.snapshots.exists(names.at(-1)!)));
  }
  await sweepDeadOwners(scratchRoot, 'unpack');
  const scratch = join(scratchRoot, ownedName('unpack'));
  await mkdir(scratch, { recursive: true });
  const queue = new PQueue({ concurrency: Math.max(1, concurrency) });
  try {
    const extracted = await Promise.all(
      sources.map((src, i): Promise<ExtractedLayer> => {
        if (reusable[i]) return reusedSize(parts, names[i]!, src.diffId, opts.knownSizes?.get(names[i]!)).then((size) => ({ diffId: src.diffId, size }));
        return queue.add(async () => {
          const dir = join(scratch, String(i));
          const got = await src.extract(dir);
          if (got.diffId !== src.diffId) throw new TbuildError('TB_ARCHIVE_INVALID', `layer content does not match its diffID: want ${src.diffId}, got ${got.diffId}`);
          return { diffId: src.diffId, size: got.size, dir };
        });
      }),
    );
    await opts.beforeStack?.();
    return await stackLayers(parts, extracted);
  } catch (err) {
    queue.clear();
    await queue.onIdle().catch(() => {});
    throw err;
  } finally {
    await rm(scratch, { recursive: true, force: true }).catch(() => {});
  }
}

/** A reused layer's size: known, its kept tar's, or (neither) counted from its snapshot. */
async function reusedSize(parts: LayerParts, snapshot: string, diffId: Digest, known: number | undefined): Promise<number> {
  if (known !== undefined) return known;
  // a layer loaded from an archive another tool made does not come back byte for byte from its snapshot
  const blob = await parts.content.info(diffId);
  return blob ? blob.size : layerSize(parts, snapshot, diffId);
}

/** A layer extracted apart from its stack, into a directory of its own. */
interface ExtractedLayer {
  diffId: Digest;
  /** Uncompressed tar size. */
  size: number;
  /** On the snapshotter's filesystem; absent when the stack up to this layer is already here. */
  dir?: string;
}

/**
 * Stack layers that were extracted apart (all at once, say, as a pull downloads them) bottom-up:
 * each directory is moved in as the snapshot named by its chain id; where that stack exists
 * already it is kept and the directory left to the caller. On failure the snapshots this call
 * made are removed again.
 */
async function stackLayers(parts: LayerParts, layers: readonly ExtractedLayer[]): Promise<ImageLayer[]> {
  const undo: Undo = { snapshots: [], blobs: [] };
  const out: ImageLayer[] = [];
  let parentChain: Digest | undefined;
  let parentSnap: string | undefined;
  try {
    for (const l of layers) {
      const name = layerSnapshotName(nextChainId(parentChain, l.diffId));
      if (!(await parts.snapshots.exists(name))) {
        if (l.dir === undefined) throw new TbuildError('TB_SNAPSHOT_NOT_FOUND', `layer snapshot ${name} is gone and was not extracted again`);
        const key = tmpKey();
        await parts.snapshots.prepare(key, parentSnap, { [IMPORT_LABEL]: '1' }, l.dir);
        await commitOrDrop(parts, name, key, undo, true);
      }
      out.push({ diffId: l.diffId, size: l.size, snapshot: name });
      parentChain = nextChainId(parentChain, l.diffId);
      parentSnap = name;
    }
    // durable before the caller records anything (an image) that names them, those found here
    // too (another process may have committed them without a flush yet)
    await parts.snapshots.sync(out.map((l) => l.snapshot));
    return out;
  } catch (err) {
    await rollback(parts, undo);
    throw err;
  }
}

async function importUnknown(
  parts: LayerParts,
  src: LayerSource,
  parentChain: Digest | undefined,
  parentSnap: string | undefined,
  undo: Undo,
): Promise<ImageLayer> {
  const { stream } = await decompress(await src.open());
  let key: string | undefined = tmpKey();
  try {
    await parts.snapshots.prepare(key, parentSnap, { [IMPORT_LABEL]: '1' });
    const dir = await parts.snapshots.layerDir(key);
    await parts.layers.applyTar(stream, dir, { allowDevices: true });
    // One pass: the blob may have existed before (same content imported earlier), so it is not
    // put on the undo list; only the snapshot commit can still fail after it.
    const info = await parts.content.ingest(parts.layers.tarFromDir(dir));
    const name = layerSnapshotName(nextChainId(parentChain, info.digest));
    await commitOrDrop(parts, name, key, undo);
    key = undefined;
    return { diffId: info.digest, size: info.size, snapshot: name };
  } catch (err) {
    stream.destroy();
    if (key) await parts.snapshots.remove(key).catch(() => {});
    throw err;
  }
}

/** The uncompressed size of a layer kept only as a snapshot (its tar made again, counted, not kept). */
async function layerSize(parts: LayerParts, snapshot: string, diffId: Digest): Promise<number> {
  const desc = await parts.layers.describeDir(await parts.snapshots.layerDir(snapshot));
  if (desc.diffId !== diffId) throw new TbuildError('TB_ARCHIVE_INVALID', `snapshot ${snapshot} no longer matches layer ${diffId}`);
  return desc.size;
}

/** Commit `key` as `name`, or drop it when an identical stack was committed meanwhile. */
async function commitOrDrop(parts: LayerParts, name: string, key: string, undo: Undo, deferSync = false): Promise<void> {
  if (await parts.snapshots.exists(name)) {
    await parts.snapshots.remove(key);
    return;
  }
  try {
    await parts.snapshots.commit(name, key, {}, { deferSync });
    undo.snapshots.push(name);
  } catch (err) {
    if (!isTbuildError(err, 'TB_SNAPSHOT_EXISTS')) throw err;
    await parts.snapshots.remove(key);
  }
}

/**
 * The layer tar of one image layer, for `save` and `push`: the kept blob; for a pulled layer, the
 * registry blob it came as, decompressed; or (a built layer has neither) the tar made again from
 * its snapshot as it streams. Whatever is not the kept tar is checked against the diffID and size
 * as it streams, without writing and syncing a copy first.
 */
export async function exportLayer(parts: LayerParts, layer: ImageLayer): Promise<{ stream: Readable; size: number }> {
  const have = await parts.content.info(layer.diffId);
  if (have) return { stream: parts.content.createReadStream(layer.diffId), size: have.size };
  if (layer.compressed && (await parts.content.info(layer.compressed.digest))) {
    const { stream } = await decompress(parts.content.createReadStream(layer.compressed.digest));
    return { stream: verifyingStream(stream, { digest: layer.diffId, size: layer.size }), size: layer.size };
  }
  const dir = await parts.snapshots.layerDir(layer.snapshot);
  return { stream: verifyingStream(parts.layers.tarFromDir(dir), { digest: layer.diffId, size: layer.size }), size: layer.size };
}
