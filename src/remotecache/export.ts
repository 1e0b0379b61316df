import { layerGzip } from '../util/gzip.js';
import PQueue from 'p-queue';
import type { PushSource } from '../registry/push.js';
import { pushLayer } from '../registry/push.js';
import { BlobMap } from '../registry/blob-map.js';
import { MT } from '../registry/media-types.js';
import type { Descriptor, ProgressSink, Pusher } from '../registry/types.js';
import type { ImageLayer } from '../images/types.js';
import type { VertexResult } from '../solver/result.js';
import { TbuildError } from '../errors.js';
import { sha256, shortId, type Digest } from '../util/digest.js';
import { pendingOrigin, CACHE_INDEX_ANNOTATION } from './import.js';
import { CACHE_CONFIG_TYPE, CACHE_MOUNT_ANNOTATION, type CacheConfig, type RemoteLayer } from './types.js';

export interface CacheExportItem {
  key: Digest;
  /** With `link` set (the scheduler's results). */
  result: VertexResult;
  /** Record only the result's identity, not its layers (`mode=min`, steps before the final stage). */
  identityOnly?: boolean;
}

/** Where one export writes: a registry repository or an OCI layout, both through a Pusher. */
export interface CacheTarget {
  pusher: Pusher;
  tag: string;
  /** `host/path` (`local/<dir>` for a layout): what the compressed-blob memory records. */
  repo: string;
  host: string;
}

export interface CacheExportFormat {
  imageManifest: boolean;
  ociMediaTypes: boolean;
  /** Cache mount directories to ship along (`cache-mounts=true`). */
  mounts?: Array<{ id: string; dir: string }>;
}

const GZIP_AS_OCI: Record<string, string> = {
  [MT.dockerLayerGzip]: MT.ociLayerGzip,
  [MT.dockerLayer]: MT.ociLayer,
};
const OCI_AS_DOCKER: Record<string, string> = {
  [MT.ociLayerGzip]: MT.dockerLayerGzip,
  [MT.ociLayer]: MT.dockerLayer,
};

function labelled(desc: Descriptor, oci: boolean): Descriptor {
  const mediaType = (oci ? GZIP_AS_OCI : OCI_AS_DOCKER)[desc.mediaType] ?? desc.mediaType;
  return { mediaType, digest: desc.digest, size: desc.size };
}

type Source = { local: ImageLayer } | { remote: RemoteLayer; fetcher: NonNullable<ReturnType<typeof pendingOrigin>>['fetcher'] };

/**
 * Write a cache: every distinct layer of the items' chains (skipped when the target has it,
 * mounted or compressed and uploaded otherwise; layers still in an imported cache are copied
 * from there), the cache mounts asked for, the cache config, then the manifest under the tag.
 * Returns the digest of what the tag now names.
 */
export async function exportCache(
  source: PushSource,
  items: readonly CacheExportItem[],
  target: CacheTarget,
  format: CacheExportFormat,
  progress: ProgressSink = () => {},
): Promise<Digest> {
  const layerIndex = new Map<Digest, number>();
  const sources: Source[] = [];
  const records: CacheConfig['records'] = [];
  for (const { key, result, identityOnly } of items) {
    if (!result.link) throw new TbuildError('TB_INTERNAL', `cache export: result of ${key} has no link`);
    const origin = pendingOrigin(result);
    // a result imported as identity only has no layers to pass on either
    if (identityOnly || (result.pending && !origin)) {
      records.push({ key, link: result.link, ...(result.created ? { created: result.created } : {}) });
      continue;
    }
    const chain: Source[] = origin
      ? origin.layers.map((remote) => ({ remote, fetcher: origin.fetcher }))
      : result.layers.map((local) => ({ local }));
    const indexes = chain.map((s) => {
      const diffId = 'local' in s ? s.local.diffId : s.remote.diffId;
      let i = layerIndex.get(diffId);
      if (i === undefined) {
        i = sources.length;
        layerIndex.set(diffId, i);
        sources.push(s);
      }
      return i;
    });
    records.push({ key, link: result.link, layers: indexes, ...(result.created ? { created: result.created } : {}) });
  }

  const blobs = new BlobMap(source.root);
  const queue = new PQueue({ concurrency: 3 });
  const descs = await Promise.all(
    sources.map((s) =>
      queue.add(async (): Promise<Descriptor> => {
        if ('local' in s) {
          return pushLayer(source, target.pusher, blobs, s.local, await blobs.get(s.local.diffId), target.repo, target.host, progress);
        }
        const id = shortId(s.remote.diffId);
        if (await target.pusher.hasBlob(s.remote.blob.digest)) {
          progress({ id, status: 'Layer already exists' });
          return s.remote.blob;
        }
        const pushed = await target.pusher.pushStream(await s.fetcher.blob(s.remote.blob));
        progress({ id, status: 'Pushed' });
        return { mediaType: s.remote.blob.mediaType, digest: pushed.digest, size: pushed.size };
      }) as Promise<Descriptor>,
    ),
  );
  const layers = descs.map((d) => labelled(d, format.ociMediaTypes));

  const mounts: NonNullable<CacheConfig['mounts']> = [];
  const mountDescs: Descriptor[] = [];
  for (const m of format.mounts ?? []) {
    const pushed = await target.pusher.pushStream(layerGzip(source.layers.tarFromDir(m.dir)));
    const mediaType = format.ociMediaTypes ? MT.ociLayerGzip : MT.dockerLayerGzip;
    mounts.push({ id: m.id, blob: pushed.digest, size: pushed.size, mediaType });
    mountDescs.push({ mediaType, digest: pushed.digest, size: pushed.size, annotations: { [CACHE_MOUNT_ANNOTATION]: m.id } });
    progress({ status: `cache mount ${m.id}: ${pushed.size} bytes` });
  }

  const config: CacheConfig = {
    layers: sources.map((s, i) => ({
      blob: layers[i]!.digest,
      diffId: 'local' in s ? s.local.diffId : s.remote.diffId,
      size: 'local' in s ? s.local.size : s.remote.size,
    })),
    records,
    ...(mounts.length ? { mounts } : {}),
  };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDesc = await target.pusher.putBlob(configBytes);
  // The manifest lists each blob once (a registry keeps what a manifest references).
  const seen = new Set<string>();
  const listed = [...layers, ...mountDescs].filter((d) => !seen.has(d.digest) && seen.add(d.digest));
  const manifest = {
    schemaVersion: 2,
    mediaType: format.ociMediaTypes ? MT.ociManifest : MT.dockerManifest,
    config: { mediaType: CACHE_CONFIG_TYPE, digest: configDesc.digest, size: configBytes.length },
    layers: listed,
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  if (format.imageManifest) return target.pusher.putManifest(target.tag, manifest.mediaType, bytes);
  const digest = await target.pusher.putManifest(sha256(bytes), manifest.mediaType, bytes);
  const indexType = format.ociMediaTypes ? MT.ociIndex : MT.dockerManifestList;
  const index = {
    schemaVersion: 2,
    mediaType: indexType,
    manifests: [{ mediaType: manifest.mediaType, digest, size: bytes.length, annotations: { [CACHE_INDEX_ANNOTATION]: 'v1' } }],
  };
  return target.pusher.putManifest(target.tag, indexType, Buffer.from(JSON.stringify(index)));
}

