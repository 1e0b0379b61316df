import PQueue from 'p-queue';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { ownedName, sweepDeadOwners } from '../util/owned-temp.js';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ContentStore, LayerConverter, Snapshotter } from '../cache/types.js';
import type { ImageConfig, ImageRecord, ImageStore } from '../images/types.js';
import { importLayers, nextChainId, layerSnapshotName } from '../images/layers.js';
import { familiarName, formatReference, parseReference, repositoryName, type Reference } from '../images/reference.js';
import { TbuildError, isTbuildError } from '../errors.js';
import { digestHex, isDigest, sha256, shortId, type Digest } from '../util/digest.js';
import { BlobMap } from './blob-map.js';
import { hostPlatform, INDEX_TYPES, LAYER_TYPES, MANIFEST_TYPES, selectPlatform, type ImageIndex, type ImageManifest } from './media-types.js';
import type { Descriptor, DistributionInfo, Fetcher, Platform, ProgressSink, PulledImage, RegistryClient, Resolved } from './types.js';

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

/** Downloads left by pulls whose process died. */
/**
 * Download the layers not already applied (into the content store, verified, several at once),
 * then apply all of them in order. The downloaded compressed blobs are dropped afterwards: the
 * store keeps layers uncompressed.
 */
async function fetchLayers(
  target: PullTarget,
  fetcher: Fetcher,
  descs: Descriptor[],
  diffIds: Digest[],
  progress: ProgressSink,
  concurrency: number,
): Promise<ImageRecord['layers']> {
  // Which layer stacks are already here (same chain id): those need nothing downloaded.
  const present: boolean[] = [];
  let chain: Digest | undefined;
  for (const d of diffIds) {
    chain = nextChainId(chain, d);
    present.push((await target.snapshots.exists(layerSnapshotName(chain))) && (await target.content.info(d)) !== undefined);
  }
  // Downloads go to plain files in the root's scratch (verified while streaming by the fetcher,
  // never fsynced: they live only until their layer is applied), several at once; each layer is
  // applied as soon as its own download is done, while later ones are still arriving.
  const tmpRoot = join(target.root, 'registry', 'tmp');
  await sweepDeadOwners(tmpRoot, 'pull');
  const scratch = join(tmpRoot, ownedName('pull'));
  await mkdir(scratch, { recursive: true });
  const queue = new PQueue({ concurrency: Math.max(1, concurrency) });
  descs.forEach((d, i) => progress({ id: shortId(d.digest), status: present[i] ? 'Already exists' : 'Pulling fs layer' }));
  const downloads = new Map<string, Promise<string>>();
  const download = (desc: Descriptor): Promise<string> => {
    let p = downloads.get(desc.digest);
    if (!p) {
      p = queue.add(async () => {
        const id = shortId(desc.digest);
        const file = join(scratch, digestHex(desc.digest));
        let current = 0;
        let last = 0;
        const stream = await fetcher.blob(desc, (n) => {
          current += n;
          // A line per ~1 % is plenty for a bar, and keeps daemon streams small.
          if (current - last >= desc.size / 100 || current === desc.size) {
            last = current;
            progress({ id, status: 'Downloading', current, total: desc.size });
          }
        });
        await pipeline(stream, createWriteStream(file));
        progress({ id, status: 'Verifying Checksum' });
        progress({ id, status: 'Download complete' });
        return file;
      });
      // Failures surface when the layer is opened; until then nobody may call them unhandled.
      p.catch(() => {});
      downloads.set(desc.digest, p);
    }
    return p;
  };
  descs.forEach((d, i) => {
    if (!present[i]) void download(d);
  });
  try {
    const layers = await importLayers(
      target,
      descs.map((desc, i) => ({
        diffId: diffIds[i]!,
        open: async () => {
          const file = await download(desc);
          progress({ id: shortId(desc.digest), status: 'Extracting', current: 0, total: desc.size });
          return createReadStream(file);
        },
      })),
    );
    descs.forEach((d, i) => present[i] || progress({ id: shortId(d.digest), status: 'Pull complete' }));
    return layers;
  } finally {
    queue.clear();
    await queue.onIdle().catch(() => {});
    await rm(scratch, { recursive: true, force: true }).catch(() => {});
  }
}
