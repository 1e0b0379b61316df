import { join } from 'node:path';
import type { ContentStore, LayerConverter, Snapshotter } from '../cache/types.js';
import type { ImageConfig, ImageRecord, ImageStore } from '../images/types.js';
import { nextChainId, layerSnapshotName, unpackLayers } from '../images/layers.js';
import { familiarName, formatReference, parseReference, repositoryName, type Reference } from '../images/reference.js';
import { TbuildError, isTbuildError } from '../errors.js';
import { isDigest, sha256, shortId, type Digest } from '../util/digest.js';
import { BlobMap } from './blob-map.js';
import { downloadAndExtract, OFF_THREAD_BYTES } from './layer-download.js';
import { formatPlatform, hostPlatform, INDEX_TYPES, LAYER_TYPES, MANIFEST_TYPES, platformMatches, selectPlatform, type ImageIndex, type ImageManifest } from './media-types.js';
import { platformOfConfig } from '../util/platform.js';
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
  /** See PullRequest.requirePlatform. */
  requirePlatform?: boolean;
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

/** The manifest (or index) `ref` names; not found is said in Docker's words, naming `display`. */
async function topManifest(fetcher: Fetcher, ref: Reference, display: string): Promise<Resolved> {
  return fetcher.manifest(ref.digest ?? ref.tag!).catch((err: unknown) => {
    if (isTbuildError(err, 'TB_REGISTRY_NOT_FOUND')) {
      // the registry's own words after Docker's: `manifest for X not found: manifest unknown: …`
      const why = /: not found(: .*)?$/s.exec(err.message)?.[1] ?? '';
      throw new TbuildError('TB_REGISTRY_NOT_FOUND', `manifest for ${display} not found${why}`, { cause: err, details: err.details });
    }
    throw err;
  });
}

/** Resolve `input` to its image config on the registry (index → platform), layers untouched. */
export async function resolveImage(registry: RegistryClient, input: string, platform: Platform = hostPlatform()): Promise<ResolvedImage> {
  const ref = pullReference(input);
  const display = familiarName(ref);
  const fetcher = registry.fetcher({ domain: ref.domain, path: ref.path });
  const top = await topManifest(fetcher, ref, display);
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
  const top = await topManifest(fetcher, ref, display);
  // (dockerd names a pull by digest by its whole reference: `host/repo@sha256:…: Pulling from repo`)
  progress({ id: ref.tag ?? display, status: `Pulling from ${ref.path}` });
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
  // The image itself is here (under another name): dockerd 26 then goes straight to the digest,
  // without a line per layer.
  if (existing) layers = existing.layers;
  else {
    layers = await fetchLayers(target, fetcher, manifest.layers, diffIds as Digest[], progress, opts.concurrency ?? 3);
  }
  const image = await target.images.create({ config, configJson, layers, names, repoDigests: [repoDigest] });
  const blobs = new BlobMap(target.root);
  const repo = repositoryName(ref);
  await Promise.all(manifest.layers.map((l, i) => blobs.add(diffIds[i] as Digest, { digest: l.digest, size: l.size, mediaType: l.mediaType }, repo).catch(() => {})));
  progress({ status: `Digest: ${top.descriptor.digest}` });
  // by digest: up to date when this very digest was pulled before (dockerd keeps digest references too)
  const upToDate = ref.tag !== undefined ? before?.id === image.id : Boolean(existing?.repoDigests.includes(repoDigest));
  progress({ status: `Status: ${upToDate ? 'Image is up to date' : 'Downloaded newer image'} for ${display}` });
  const actual = platformOfConfig(config);
  if (opts.requirePlatform && opts.platform && actual && !platformMatches(opts.platform, actual)) {
    throw new TbuildError(
      'TB_PLATFORM_NOT_FOUND',
      `image with reference ${display} was found but does not match the specified platform: wanted ${formatPlatform(opts.platform)}, actual: ${formatPlatform(actual)}`,
      { details: { ref: display } },
    );
  }
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
