import { layerGzip } from '../util/gzip.js';
import PQueue from 'p-queue';
import type { ContentStore, LayerConverter, Snapshotter } from '../cache/types.js';
import type { ImageLayer, ImageRecord, ImageStore } from '../images/types.js';
import { exportLayer } from '../images/layers.js';
import { formatReference, parseReference, repositoryName } from '../images/reference.js';
import { TbuildError } from '../errors.js';
import { sha256, shortId, type Digest } from '../util/digest.js';
import { BlobMap, type CompressedBlob } from './blob-map.js';
import { MT } from './media-types.js';
import type { Descriptor, ProgressSink, PushedImage, Pusher, PushRequest, RegistryClient } from './types.js';

export interface PushSource {
  root: string;
  images: ImageStore;
  content: ContentStore;
  snapshots: Snapshotter;
  layers: LayerConverter;
}

export type PushOptions = Omit<PushRequest, 'auth'>;

const GZIP_TYPES: ReadonlySet<string> = new Set([MT.dockerLayerGzip, MT.ociLayerGzip]);

function hostOf(repo: string): string {
  return repo.slice(0, repo.indexOf('/'));
}

/**
 * Push an image: each layer gzip-compressed once (the compressed digest is remembered per diffID),
 * skipped when the registry has it, mounted from another repository of the same registry when one
 * is known to hold it, otherwise uploaded while being compressed and hashed; then the config and a
 * Docker schema 2 manifest under the tag. Prints nothing; progress goes to `onProgress`.
 */
export async function pushImage(source: PushSource, registry: RegistryClient, input: string, opts: PushOptions = {}): Promise<PushedImage> {
  const ref = parseReference(input);
  if (ref.digest !== undefined) throw new TbuildError('TB_REFERENCE_INVALID', `cannot push a digest reference (${input}): push by tag`);
  ref.tag ??= 'latest';
  const name = formatReference(ref);
  const progress: ProgressSink = opts.onProgress ?? (() => {});
  const repo = repositoryName(ref);
  progress({ status: `The push refers to repository [${repo}]` });
  if (opts.platforms?.length && opts.image) throw new TbuildError('TB_INVALID_ARGUMENT', `push ${input}: give the platforms' images or one image, not both`);
  if (!opts.platforms?.length) {
    const image = await source.images.resolve(opts.image ?? name);
    const { digest, size } = await pushOne(source, registry, ref, image, ref.tag, opts);
    // Remember where this image now lives (docker images --digests, pulls by digest later).
    await source.images.create({ config: image.config, configJson: (await source.content.read(image.id)).toString(), layers: image.layers, repoDigests: [`${repo}@${digest}`] }).catch(() => {});
    progress({ status: `${ref.tag}: digest: ${digest} size: ${size}` });
    return { name, tag: ref.tag, digest, size };
  }
  // A manifest list: each platform's image under its digest, then the list under the tag.
  const manifests = [];
  for (const { image: id, platform } of opts.platforms) {
    const image = await source.images.resolve(id);
    const { digest, size } = await pushOne(source, registry, ref, image, undefined, opts);
    manifests.push({ mediaType: MT.dockerManifest, digest, size, platform: { architecture: platform.architecture, os: platform.os, ...(platform.variant ? { variant: platform.variant } : {}) } });
  }
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.dockerManifestList, manifests }, null, 3));
  const digest = await registry.pusher({ domain: ref.domain, path: ref.path }).putManifest(ref.tag, MT.dockerManifestList, bytes);
  progress({ status: `${ref.tag}: digest: ${digest} size: ${bytes.length}` });
  return { name, tag: ref.tag, digest, size: bytes.length };
}

/**
 * One image's layers, config and Docker schema 2 manifest into `ref`'s repository: under `tag`,
 * or (a manifest list's entry) only under its digest.
 */
async function pushOne(source: PushSource, registry: RegistryClient, ref: ReturnType<typeof parseReference>, image: ImageRecord, tag: string | undefined, opts: PushOptions): Promise<{ digest: Digest; size: number }> {
  const repo = repositoryName(ref);
  const host = ref.domain;
  const progress: ProgressSink = opts.onProgress ?? (() => {});
  const blobs = new BlobMap(source.root);

  // Mount candidates: repositories on the same registry known to hold one of the layers.
  const known = await Promise.all(image.layers.map((l) => blobs.get(l.diffId)));
  const mountFrom = new Set<string>();
  for (const list of known) for (const b of list) for (const r of b.repos) if (hostOf(r) === host && r !== repo) mountFrom.add(r.slice(host.length + 1));
  const pusher = registry.pusher({ domain: ref.domain, path: ref.path }, [...mountFrom].slice(0, 8));

  for (const l of image.layers) progress({ id: shortId(l.diffId), status: 'Preparing' });
  const queue = new PQueue({ concurrency: Math.max(1, opts.concurrency ?? 3) });
  // The same diffID twice in one image is pushed once.
  const perDiff = new Map<string, Promise<Descriptor>>();
  const layerDescs = await Promise.all(
    image.layers.map((layer, i) => {
      let p = perDiff.get(layer.diffId);
      if (!p) {
        p = queue.add(() => pushLayer(source, pusher, blobs, layer, known[i]!, repo, host, progress));
        perDiff.set(layer.diffId, p);
      }
      return p;
    }),
  );

  const configBytes = await source.content.read(image.id);
  if (!(await pusher.hasBlob(image.id))) await pusher.putBlob(configBytes, image.id);
  const manifest = {
    schemaVersion: 2,
    mediaType: MT.dockerManifest,
    config: { mediaType: MT.dockerConfig, size: configBytes.length, digest: image.id },
    layers: layerDescs,
    // a Docker manifest may carry annotations too (BuildKit writes them with oci-mediatypes=false)
    ...(image.annotations ? { annotations: image.annotations } : {}),
  };
  const bytes = Buffer.from(JSON.stringify(manifest, null, 3));
  const digest = await pusher.putManifest(tag ?? sha256(bytes), MT.dockerManifest, bytes);
  return { digest, size: bytes.length };
}

export async function pushLayer(
  source: PushSource,
  pusher: Pusher,
  blobs: BlobMap,
  layer: ImageLayer,
  known: CompressedBlob[],
  repo: string,
  host: string,
  progress: ProgressSink,
): Promise<Descriptor> {
  const id = shortId(layer.diffId);
  // A pulled layer's own registry blob is a candidate too (the blob map may have lost it).
  const pulled = layer.compressed && !known.some((b) => b.digest === layer.compressed!.digest) ? [{ ...layer.compressed, repos: [] }] : [];
  const gz = [...known, ...pulled].filter((b) => GZIP_TYPES.has(b.mediaType));
  const desc = (b: CompressedBlob): Descriptor => ({ mediaType: MT.dockerLayerGzip, size: b.size, digest: b.digest });
  // 1. Already in the repository (known to be, or our own compression of it is there).
  for (const b of gz) {
    if ((b.repos.includes(repo) || b.mediaType === MT.dockerLayerGzip) && (await pusher.hasBlob(b.digest))) {
      await blobs.add(layer.diffId, b, repo).catch(() => {});
      progress({ id, status: 'Layer already exists' });
      return desc(b);
    }
  }
  // 2. Mounted from another repository of the same registry.
  for (const b of gz) {
    for (const from of b.repos) {
      if (hostOf(from) !== host || from === repo) continue;
      const fromPath = from.slice(host.length + 1);
      if (await pusher.mountBlob(b.digest, fromPath)) {
        await blobs.add(layer.diffId, b, repo).catch(() => {});
        progress({ id, status: `Mounted from ${fromPath}` });
        return desc(b);
      }
    }
  }
  // 3. The compressed blob a pull kept, sent as it is.
  const kept = gz.find((b) => b.digest === layer.compressed?.digest);
  if (kept && (await source.content.info(kept.digest))) {
    let sent = 0;
    let shown = 0;
    const pushed = await pusher.pushStream(source.content.createReadStream(kept.digest), (n) => {
      sent += n;
      if (sent - shown >= kept.size / 100 || sent === kept.size) {
        shown = sent;
        progress({ id, status: 'Pushing', current: sent, total: kept.size });
      }
    });
    if (pushed.digest !== kept.digest) throw new TbuildError('TB_CONTENT_DIGEST_MISMATCH', `layer blob ${kept.digest} in the content store hashes to ${pushed.digest}`);
    await blobs.add(layer.diffId, kept, repo).catch(() => {});
    progress({ id, status: 'Pushed' });
    return desc(kept);
  }
  // 4. Compress and upload in one pass.
  const { stream, size } = await exportLayer(source, layer);
  let read = 0;
  let last = 0;
  const pushed = await pusher.pushStream(
    layerGzip(stream, (n) => {
      read += n;
      if (read - last >= size / 100 || read === size) {
        last = read;
        progress({ id, status: 'Pushing', current: read, total: size });
      }
    }),
  );
  const blob = { digest: pushed.digest, size: pushed.size, mediaType: MT.dockerLayerGzip };
  await blobs.add(layer.diffId, blob, repo).catch(() => {});
  progress({ id, status: 'Pushed' });
  return desc({ ...blob, repos: [] });
}
