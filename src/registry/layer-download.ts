import type { ContentStore, LayerConverter, LayerDescriptor } from '../cache/types.js';
import { TbuildError, isTbuildError } from '../errors.js';
import { shortId, type Digest } from '../util/digest.js';
import type { Descriptor, Fetcher, ProgressSink } from './types.js';

/** What a layer's download writes into. */
export interface DownloadTarget {
  content: ContentStore;
  layers: LayerConverter;
}

/** Layers from this size on are extracted on a worker thread (the pool's start-up is ~0.1 s). */
export const OFF_THREAD_BYTES = 4 << 20;
/** A large layer's bytes go to its worker this many at a time, once the store has written them. */
const HAND_OVER_BYTES = 1 << 20;

/**
 * One layer: its bytes go to the content store (under their own digest) and, as they pass, to
 * the extraction into `dir`. A blob already in the store is only extracted.
 */
export async function downloadAndExtract(
  target: DownloadTarget,
  fetcher: Fetcher,
  desc: Descriptor,
  dir: string,
  progress: ProgressSink,
  added: Digest[],
  commits: Promise<void>[],
  failed: { value: boolean },
): Promise<LayerDescriptor> {
  const id = shortId(desc.digest);
  if (await target.content.info(desc.digest)) {
    progress({ id, status: 'Extracting', current: 0, total: desc.size });
    return target.layers.applyTar(target.content.createReadStream(desc.digest), dir, { allowDevices: true });
  }
  let current = 0;
  let last = 0;
  // The content store's writer checks digest and size; the fetcher need not hash them too.
  const stream = await fetcher.blob(
    desc,
    (n) => {
      current += n;
      // A line per ~1 % is plenty for a bar, and keeps daemon streams small.
      if (current - last >= desc.size / 100 || current === desc.size) {
        last = current;
        progress({ id, status: 'Downloading', current, total: desc.size });
      }
    },
    { verify: false },
  );
  // a large layer's bytes are hashed by the worker that extracts them: this thread, which reads
  // every download of the pull, is the one that runs out of time first
  const offThread = desc.size >= OFF_THREAD_BYTES;
  const writer = await target.content.writer({ expected: desc.digest, size: desc.size, hashedByCaller: offThread });
  // Each chunk is written to the store and taken by the extraction: no copy in between. A large
  // layer's chunks move to its worker as they are, so they go there only once the store has
  // written them (a megabyte at a time, as it gathers them).
  let failedWrite: unknown;
  const store = async (write: () => Promise<void>): Promise<void> => {
    try {
      await write();
    } catch (err) {
      failedWrite ??= err;
      throw err;
    }
  };
  async function* stored(): AsyncGenerator<Buffer> {
    let held: Buffer[] = [];
    let heldBytes = 0;
    // The download outlives an extraction that gives up: see below.
    for await (const chunk of stream.iterator({ destroyOnReturn: false })) {
      await store(() => writer.write(chunk as Buffer));
      if (!offThread) {
        yield chunk as Buffer;
        continue;
      }
      held.push(chunk as Buffer);
      heldBytes += (chunk as Buffer).length;
      if (heldBytes < HAND_OVER_BYTES) continue;
      await store(() => writer.flush());
      yield* held;
      held = [];
      heldBytes = 0;
    }
    await store(() => writer.flush());
    yield* held;
  }
  try {
    const { input, ...got } = await target.layers.applyTar(stored(), dir, { allowDevices: true, offThread, digestInput: offThread, handOver: offThread }).catch(async (err: unknown) => {
      // Bytes that do not unpack may be bytes that are not the blob: then that is the error to
      // report (it names the digest), so the rest is read and checked before giving up. A layer
      // refused for what it holds, or a download that broke, is reported as it is.
      if (failedWrite !== undefined || isTbuildError(err, 'TB_TAR_HOSTILE') || isTbuildError(err, 'TB_NO_SPACE') || stream.errored) throw failedWrite ?? err;
      for await (const chunk of stream) await writer.write(chunk as Buffer);
      // (a writer whose caller has no digest for it hashes what it wrote)
      await writer.commit();
      added.push(desc.digest);
      throw err;
    });
    progress({ id, status: 'Verifying Checksum' });
    // The commit (the blob made durable and named) does not hold the layer's download slot: the
    // next layer starts while it runs, and the pull waits for every commit before it records
    // the image. (A commit that fails has removed what it wrote; the handler below only keeps an
    // early failure from being reported as unhandled before the pull gets to it.)
    const committed = writer.commit(input?.digest).then(
      () => {
        added.push(desc.digest);
        if (!failed.value) progress({ id, status: 'Download complete' });
      },
      (err: unknown) => {
        throw namedBlobError(err, desc.digest);
      },
    );
    committed.catch(() => {});
    commits.push(committed);
    return got;
  } catch (err) {
    stream.destroy();
    await writer.abort();
    throw namedBlobError(err, desc.digest);
  }
}

/** A size mismatch names the blob it is about. */
function namedBlobError(err: unknown, digest: Digest): unknown {
  if (isTbuildError(err, 'TB_CONTENT_SIZE_MISMATCH') && !err.message.includes(digest)) {
    return new TbuildError(err.code, `blob ${digest}: ${err.message}`, { cause: err, details: err.details });
  }
  return err;
}
