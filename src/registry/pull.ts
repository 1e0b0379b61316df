import { join } from 'node:path';
import type { ContentStore, LayerConverter, LayerDescriptor, Snapshotter } from '../cache/types.js';
import type { ImageConfig, ImageRecord, ImageStore } from '../images/types.js';
import { nextChainId, layerSnapshotName, unpackLayers } from '../images/layers.js';
import { familiarName, formatReference, parseReference, repositoryName, type Reference } from '../images/reference.js';
import { TbuildError, isTbuildError } from '../errors.js';
import { isDigest, sha256, shortId, type Digest } from '../util/digest.js';
import { BlobMap } from './blob-map.js';
import { hostPlatform, INDEX_TYPES, LAYER_TYPES, MANIFEST_TYPES, selectPlatform, type ImageIndex, type ImageManifest } from './media-types.js';
import type { Descriptor, DistributionInfo, Fetcher, Platform, ProgressSink, PulledImage, PulledRepository, RegistryClient, Resolved } from './types.js';

/** The stores a pull writes into (an engine's parts). */
export interface PullTarget {
  root: string;
  images: ImageStore;
  content: ContentStore;
  snapshots: Snapshotter;
  layers: LayerConverter;
}

export interface PullOptions {
  platform?: Platform;
  onProgress?: ProgressSink;
  /** Layers downloaded at once; default 3, as dockerd's max-concurrent-downloads. */
  concurrency?: number;
}

function parseJson<T>(bytes: Buffer, what: string): T {
  try {
    return JSON.parse(bytes.toString()) as T;
  } catch {
    throw new TbuildError('TB_REGISTRY_PROTOCOL', `${what} is not valid JSON`);
  }
}

/** The image manifest for `platform` behind `top` (itself, or the matching entry of an index). */
export async function resolveImageManifest(fetcher: Fetcher, top: Resolved, platform: Platform, name: string): Promise<{ manifest: ImageManifest; digest: Digest }> {
  let current = top;
  for (let depth = 0; depth < 3; depth++) {
    const mt = current.descriptor.mediaType;
    if (MANIFEST_TYPES.has(mt)) {
      const manifest = parseJson<ImageManifest>(current.bytes, `manifest ${current.descriptor.digest}`);
      if (!manifest.config?.digest || !Array.isArray(manifest.layers)) {
        throw new TbuildError('TB_REGISTRY_PROTOCOL', `manifest ${current.descriptor.digest} of ${name} has no config or layers`);
      }
      for (const d of [manifest.config, ...manifest.layers]) {
        if (!d || !isDigest(d.digest) || typeof d.size !== 'number') {
          throw new TbuildError('TB_REGISTRY_PROTOCOL', `manifest ${current.descriptor.digest} of ${name} has a bad descriptor`);
        }
      }
      return { manifest, digest: current.descriptor.digest };
    }
    if (!INDEX_TYPES.has(mt)) {
      throw new TbuildError('TB_REGISTRY_PROTOCOL', `${name}: unsupported manifest type ${mt}`);
    }
    const index = parseJson<ImageIndex>(current.bytes, `index ${current.descriptor.digest}`);
    if (!Array.isArray(index.manifests)) throw new TbuildError('TB_REGISTRY_PROTOCOL', `index ${current.descriptor.digest} of ${name} has no manifests`);
    const chosen = selectPlatform(index, platform, name);
    current = await fetcher.manifest(chosen.digest);
  }
  throw new TbuildError('TB_REGISTRY_PROTOCOL', `${name}: indexes nested too deeply`);
}

/** What a name resolves to on its registry, without any layer: enough to plan a build on it. */
export interface ResolvedImage {
  /** Config digest (the image id). */
  id: Digest;
  config: ImageConfig;
  /** `repository@sha256:…` of the top-level manifest: pulls later get exactly this image. */
  pinned: string;
  diffIds: Digest[];
}

/** Resolve `input` to its image config on the registry (index → platform), layers untouched. */
export async function resolveImage(registry: RegistryClient, input: string, platform: Platform = hostPlatform()): Promise<ResolvedImage> {
  const ref = pullReference(input);
  const display = familiarName(ref);
  const fetcher = registry.fetcher({ domain: ref.domain, path: ref.path });
  const top = await fetcher.manifest(ref.digest ?? ref.tag!).catch((err: unknown) => {
    if (isTbuildError(err, 'TB_REGISTRY_NOT_FOUND')) {
      throw new TbuildError('TB_REGISTRY_NOT_FOUND', `manifest for ${display} not found: ${err.message}`, { cause: err, details: err.details });
    }
    throw err;
  });
  const { manifest } = await resolveImageManifest(fetcher, top, platform, display);
  const configJson = (await fetcher.blobBytes(manifest.config)).toString();
  const config = parseJson<ImageConfig>(Buffer.from(configJson), `config of ${display}`);
  const diffIds = config.rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || diffIds.length !== manifest.layers.length || !diffIds.every((d) => isDigest(d))) {
    throw new TbuildError('TB_REGISTRY_PROTOCOL', `${display}: config rootfs.diff_ids do not match the manifest's ${manifest.layers.length} layers`);
  }
  return { id: sha256(configJson), config, pinned: `${repositoryName(ref)}@${top.descriptor.digest}`, diffIds: diffIds as Digest[] };
}

/** `busybox` → parsed reference with `latest` added when it has neither tag nor digest. */
export function pullReference(input: string): Reference {
  const ref = parseReference(input);
  if (ref.tag === undefined && ref.digest === undefined) ref.tag = 'latest';
  return ref;
}

/** What `ref` resolves to on its registry, and the platforms it offers (`docker manifest inspect`-like). */
export async function distributionInfo(registry: RegistryClient, input: string): Promise<DistributionInfo> {
  const ref = pullReference(input);
  const fetcher = registry.fetcher({ domain: ref.domain, path: ref.path });
  const top = await fetcher.manifest(ref.digest ?? ref.tag!);
  const d = top.descriptor;
  let platforms: Platform[];
  if (INDEX_TYPES.has(d.mediaType)) {
    const index = parseJson<ImageIndex>(top.bytes, `index ${d.digest}`);
    platforms = (index.manifests ?? []).flatMap((m) => (m.platform ? [m.platform] : []));
  } else {
    const { manifest } = await resolveImageManifest(fetcher, top, hostPlatform(), familiarName(ref));
    const config = parseJson<Partial<ImageConfig>>(await fetcher.blobBytes(manifest.config), 'config');
    platforms = [{ os: config.os ?? 'linux', architecture: config.architecture ?? 'amd64', ...(config.variant ? { variant: config.variant } : {}) }];
  }
  return { Descriptor: { mediaType: d.mediaType, digest: d.digest, size: d.size }, Platforms: platforms };
}

/**
 * Pull an image into the local store: resolve the name (choosing the platform from an index),
 * download missing layers (several at once, each verified against its digest and size while
 * streaming), apply them bottom-up as snapshots (each checked against its diffID), then record
 * the image with its name and repo digest. A failed pull keeps nothing it had created.
 */
export async function pullImage(target: PullTarget, registry: RegistryClient, input: string, opts: PullOptions = {}): Promise<PulledImage> {
  const ref = pullReference(input);
  const name = formatReference(ref);
  const display = familiarName(ref);
  const progress: ProgressSink = opts.onProgress ?? (() => {});
  const fetcher = registry.fetcher({ domain: ref.domain, path: ref.path });
  const top = await fetcher.manifest(ref.digest ?? ref.tag!).catch((err: unknown) => {
    if (isTbuildError(err, 'TB_REGISTRY_NOT_FOUND')) {
      throw new TbuildError('TB_REGISTRY_NOT_FOUND', `manifest for ${display} not found: ${err.message}`, { cause: err, details: err.details });
    }
    throw err;
  });
  progress({ id: ref.tag ?? ref.digest, status: `Pulling from ${ref.path}` });
  const { manifest } = await resolveImageManifest(fetcher, top, opts.platform ?? hostPlatform(), display);
  for (const l of manifest.layers) {
    if (!LAYER_TYPES.has(l.mediaType)) throw new TbuildError('TB_REGISTRY_PROTOCOL', `${display}: layer ${l.digest} has unsupported media type ${l.mediaType}`);
  }
  // the extraction threads start while the config and the store are read
  const large = manifest.layers.filter((l) => l.size >= OFF_THREAD_BYTES).length;
  if (large) target.layers.warmOffThread?.(Math.min(large, opts.concurrency ?? 3));
  const configJson = (await fetcher.blobBytes(manifest.config)).toString();
  const config = parseJson<ImageConfig>(Buffer.from(configJson), `config of ${display}`);
  const diffIds = config.rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || diffIds.length !== manifest.layers.length || !diffIds.every((d) => isDigest(d))) {
    throw new TbuildError('TB_REGISTRY_PROTOCOL', `${display}: config rootfs.diff_ids do not match the manifest's ${manifest.layers.length} layers`);
  }
  const repoDigest = `${repositoryName(ref)}@${top.descriptor.digest}`;
  const names = ref.tag !== undefined ? [formatReference({ domain: ref.domain, path: ref.path, tag: ref.tag })] : [];
  const id = sha256(configJson);

  const before = ref.tag !== undefined ? await target.images.get(names[0]!) : undefined;
  const existing = await target.images.get(id);
  let layers;
  if (existing) {
    layers = existing.layers;
    for (const l of manifest.layers) progress({ id: shortId(l.digest), status: 'Already exists' });
  } else {
    layers = await fetchLayers(target, fetcher, manifest.layers, diffIds as Digest[], progress, opts.concurrency ?? 3);
  }
  const image = await target.images.create({ config, configJson, layers, names, repoDigests: [repoDigest] });
  const blobs = new BlobMap(target.root);
  const repo = repositoryName(ref);
  await Promise.all(manifest.layers.map((l, i) => blobs.add(diffIds[i] as Digest, { digest: l.digest, size: l.size, mediaType: l.mediaType }, repo).catch(() => {})));
  progress({ status: `Digest: ${top.descriptor.digest}` });
  const upToDate = before?.id === image.id;
  progress({ status: `Status: ${upToDate ? 'Image is up to date' : 'Downloaded newer image'} for ${display}` });
  return { image, name, digest: top.descriptor.digest, upToDate };
}

/**
 * `docker pull -a`: every tag of `input` (a repository without tag or digest), one after another.
 * As dockerd does, a tag that cannot be pulled (another platform, a broken manifest) does not stop
 * the others; it is reported in the progress and in the result, and the pull fails only when no
 * tag came. One `Status:` line for the repository ends it, as Docker's.
 */
export async function pullAllTags(target: PullTarget, registry: RegistryClient, input: string, opts: PullOptions = {}): Promise<PulledRepository> {
  const parsed = parseReference(input);
  if (parsed.tag !== undefined || parsed.digest !== undefined) {
    throw new TbuildError('TB_INVALID_ARGUMENT', `tag can't be used with --all-tags/-a (${familiarName(parsed)})`);
  }
  const repo = { domain: parsed.domain, path: parsed.path };
  const display = familiarName(repo);
  const progress: ProgressSink = opts.onProgress ?? (() => {});
  const tags = await registry.tags(repo).catch((err: unknown) => {
    if (isTbuildError(err, 'TB_REGISTRY_NOT_FOUND')) {
      throw new TbuildError('TB_REGISTRY_NOT_FOUND', `repository ${display} not found: ${err.message}`, { cause: err, details: err.details });
    }
    throw err;
  });
  if (tags.length === 0) throw new TbuildError('TB_REGISTRY_NOT_FOUND', `repository ${display} has no tags`);
  const result: PulledRepository = { name: repositoryName(repo), pulled: [], failed: [], upToDate: true };
  let firstError: TbuildError | undefined;
  for (const tag of tags) {
    try {
      const res = await pullImage(target, registry, formatReference({ ...repo, tag }), {
        ...opts,
        onProgress: (p) => p.status.startsWith('Status: ') || progress(p),
      });
      result.pulled.push(tag);
      result.upToDate &&= res.upToDate;
    } catch (err) {
      // a full disk or a bug is not the tag's fault: the others would fail the same way
      if (!isTbuildError(err) || err.code === 'TB_NO_SPACE') throw err;
      firstError ??= err;
      result.failed.push({ tag, message: err.message });
      progress({ id: tag, status: `Error pulling tag ${tag}: ${err.message}` });
    }
  }
  if (result.pulled.length === 0) {
    throw new TbuildError(firstError!.code, `no tag of ${display} could be pulled: ${result.failed.map((f) => `${f.tag}: ${f.message}`).join('; ')}`, { cause: firstError });
  }
  progress({ status: `Status: ${result.upToDate ? 'Image is up to date' : 'Downloaded newer image'} for ${display}` });
  return result;
}

/**
 * Download the layers not already here, several at once, each verified against its digest and
 * size while streaming, kept in the content store as it came (compressed: that is the blob the
 * image keeps for the layer, not the uncompressed tar) and extracted as it arrives into a
 * directory of its own, so that every layer downloads and unpacks at the same time. Then the
 * directories are stacked in order as the layer snapshots. A failed pull removes what it added.
 */
async function fetchLayers(
  target: PullTarget,
  fetcher: Fetcher,
  descs: Descriptor[],
  diffIds: Digest[],
  progress: ProgressSink,
  concurrency: number,
): Promise<ImageRecord['layers']> {
  // Stacks already here (same chain id) need nothing, if an image of the store knows their size.
  const sizes = await layerSizes(target.images);
  const present: boolean[] = [];
  let chain: Digest | undefined;
  for (const [i, d] of diffIds.entries()) {
    chain = nextChainId(chain, d);
    const name = layerSnapshotName(chain);
    const blob = (await target.content.info(d)) ?? (await target.content.info(descs[i]!.digest));
    present.push(blob !== undefined && sizes.has(name) && (await target.snapshots.exists(name)));
  }
  descs.forEach((d, i) => progress({ id: shortId(d.digest), status: present[i] ? 'Already exists' : 'Pulling fs layer' }));
  const added: Digest[] = [];
  const commits: Promise<void>[] = [];
  // (a commit that ends after the pull failed does not report its blob as downloaded)
  const failed = { value: false };
  try {
    const layers = await unpackLayers(
      target,
      join(target.root, 'registry', 'tmp'),
      descs.map((desc, i) => ({
        diffId: diffIds[i]!,
        // a stack here without its blob is unpacked again, for the blob
        reuse: present[i],
        extract: (dir) => downloadAndExtract(target, fetcher, desc, dir, progress, added, commits, failed),
      })),
      // every blob is committed before a layer becomes a snapshot: a blob that fails there leaves none
      { concurrency, knownSizes: sizes, beforeStack: () => Promise.all(commits) },
    );
    descs.forEach((d, i) => present[i] || progress({ id: shortId(d.digest), status: 'Pull complete' }));
    return layers.map((l, i) => ({ ...l, compressed: { digest: descs[i]!.digest, size: descs[i]!.size, mediaType: descs[i]!.mediaType } }));
  } catch (err) {
    failed.value = true;
    // Bytes that are not the blob explain whatever went wrong with them after: that is the error
    // (but a full disk stays the error: a caller pulling several images stops on it).
    const notTheBlob = (await Promise.allSettled(commits)).find((r) => r.status === 'rejected' && isTbuildError(r.reason, 'TB_CONTENT_DIGEST_MISMATCH'));
    // Blobs an image of the store uses meanwhile stay.
    for (const d of added) if (!(await blobInUse(target, d))) await target.content.delete(d).catch(() => {});
    throw notTheBlob && !isTbuildError(err, 'TB_NO_SPACE') ? (notTheBlob as PromiseRejectedResult).reason : err;
  }
}

/** Layers from this size on are extracted on a worker thread (the pool's start-up is ~0.1 s). */
const OFF_THREAD_BYTES = 4 << 20;
/** A large layer's bytes go to its worker this many at a time, once the store has written them. */
const HAND_OVER_BYTES = 1 << 20;

/**
 * One layer: its bytes go to the content store (under their own digest) and, as they pass, to
 * the extraction into `dir`. A blob already in the store is only extracted.
 */
async function downloadAndExtract(
  target: PullTarget,
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

/** The size of every layer snapshot the store's images know, by snapshot name. */
export async function layerSizes(images: ImageStore): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  for (const img of await images.list()) for (const l of img.layers) sizes.set(l.snapshot, l.size);
  return sizes;
}

async function blobInUse(target: PullTarget, digest: Digest): Promise<boolean> {
  for (const img of await target.images.list()) if (img.layers.some((l) => l.compressed?.digest === digest)) return true;
  return false;
}
