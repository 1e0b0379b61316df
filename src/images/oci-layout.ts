import type { Readable } from 'node:stream';
import { archiveInvalid, type StagedArchive } from './archive-reader.js';
import { parseConfig, type ArchiveContext, type LoadPlan } from './load-plan.js';
import { BlobWriter, addBuffer, nameAnnotations, packArchive, resolveSaveSet, type SaveItem } from './archive-writer.js';
import { MEDIA_TYPES, type Descriptor } from './manifest.js';
import { normalizeTagReference } from './reference.js';
import { digestHex, isDigest, sha256, type Digest } from '../util/digest.js';
import type { ImageRecord } from './types.js';
import type { Platform } from '../util/platform.js';

/**
 * OCI image layout tarballs (`oci-layout`, `index.json`, `blobs/sha256/…`), as `skopeo
 * oci-archive:`, BuildKit's oci exporter and `docker save` (25+) write them. Every blob read is
 * checked against its digest; nested indexes pick the linux/amd64 manifest (or the only one).
 */

const INDEX_TYPES = new Set<string>([MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifestList]);
const MANIFEST_TYPES = new Set<string>([MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest]);
const MAX_INDEX_DEPTH = 4;

interface IndexLike {
  mediaType?: string;
  manifests?: unknown;
}

interface ManifestLike {
  mediaType?: string;
  config?: unknown;
  layers?: unknown;
  annotations?: unknown;
}

/** A manifest's annotations, kept with the loaded image (a saved image loads back as it was). */
function manifestAnnotations(m: ManifestLike, where: string): Record<string, string> | undefined {
  if (m.annotations === undefined) return undefined;
  const a = m.annotations;
  if (typeof a !== 'object' || a === null || Array.isArray(a) || Object.values(a).some((v) => typeof v !== 'string')) {
    throw archiveInvalid(`${where}: manifest annotations must map names to strings`);
  }
  return a as Record<string, string>;
}

function blobMember(d: Digest): string {
  return `blobs/sha256/${digestHex(d)}`;
}

function checkDescriptor(raw: unknown, where: string): Descriptor {
  const d = raw as Partial<Descriptor> | null;
  if (!d || typeof d !== 'object' || typeof d.digest !== 'string' || !isDigest(d.digest)) {
    throw archiveInvalid(`${where}: bad descriptor ${JSON.stringify(raw)?.slice(0, 200)}`);
  }
  return d as Descriptor;
}

/** A blob's text, verified against its digest (and size when the descriptor gives one). */
async function blobText(archive: StagedArchive, desc: Descriptor, where: string): Promise<string> {
  const member = blobMember(desc.digest);
  const text = await archive.text(member).catch((err: unknown) => {
    throw archiveInvalid(`${where}: blob ${desc.digest} is missing`, err);
  });
  if (sha256(text) !== desc.digest) throw archiveInvalid(`${where}: blob ${desc.digest} does not match its digest`);
  if (typeof desc.size === 'number' && Buffer.byteLength(text) !== desc.size) {
    throw archiveInvalid(`${where}: blob ${desc.digest} has the wrong size`);
  }
  return text;
}

function parseJson<T>(text: string, where: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw archiveInvalid(`${where} is not valid JSON: ${(err as Error).message}`, err);
  }
}

/** The image names an index entry carries, normalized; a bare tag (`latest`) names nothing. */
function namesOf(desc: Descriptor): string[] {
  const a = desc.annotations ?? {};
  const candidates = [a['io.containerd.image.name'], a['org.opencontainers.image.ref.name']];
  for (const c of candidates) {
    if (typeof c !== 'string' || !/[/:]/.test(c)) continue;
    try {
      return [normalizeTagReference(c)];
    } catch {
      // an OCI ref.name need not be a Docker reference
    }
  }
  return [];
}

/** Find the image manifest below an index entry. */
async function pickManifest(archive: StagedArchive, desc: Descriptor, where: string, depth = 0): Promise<{ desc: Descriptor; manifest: ManifestLike }> {
  const text = await blobText(archive, desc, where);
  const doc = parseJson<IndexLike & ManifestLike>(text, where);
  const mediaType = doc.mediaType ?? desc.mediaType;
  const isIndex = (mediaType !== undefined && INDEX_TYPES.has(mediaType)) || (mediaType === undefined && Array.isArray(doc.manifests));
  if (!isIndex) {
    if (mediaType !== undefined && !MANIFEST_TYPES.has(mediaType)) throw archiveInvalid(`${where}: unsupported media type ${mediaType}`);
    return { desc, manifest: doc };
  }
  if (depth >= MAX_INDEX_DEPTH) throw archiveInvalid(`${where}: indexes nested too deep`);
  if (!Array.isArray(doc.manifests) || doc.manifests.length === 0) throw archiveInvalid(`${where}: index has no manifests`);
  const entries = doc.manifests.map((m, i) => checkDescriptor(m, `${where}.manifests[${i}]`));
  const chosen =
    entries.find((m) => m.platform?.os === 'linux' && m.platform.architecture === 'amd64') ??
    entries.find((m) => !m.platform || m.platform.architecture !== 'unknown') ??
    entries[0]!;
  return pickManifest(archive, chosen, `${where}→${chosen.digest.slice(0, 19)}`, depth + 1);
}

/** Check an OCI layout archive and plan its images (index entries to the same manifest merge). */
export async function planOciLayout(archive: StagedArchive): Promise<LoadPlan[]> {
  if (archive.has('oci-layout')) {
    const layout = await archive.json<{ imageLayoutVersion?: unknown }>('oci-layout');
    if (!layout || typeof layout.imageLayoutVersion !== 'string') throw archiveInvalid('oci-layout has no imageLayoutVersion');
  }
  const index = await archive.json<IndexLike>('index.json');
  if (!index || !Array.isArray(index.manifests)) throw archiveInvalid('index.json has no manifests list');
  const byManifest = new Map<string, LoadPlan>();
  for (const [i, raw] of index.manifests.entries()) {
    const where = `index.json[${i}]`;
    const entry = checkDescriptor(raw, where);
    const { desc, manifest } = await pickManifest(archive, entry, where);
    const names = namesOf(entry);
    const prev = byManifest.get(desc.digest);
    if (prev) {
      prev.names = [...new Set([...prev.names, ...names])];
      continue;
    }
    const configDesc = checkDescriptor(manifest.config, `${where}.config`);
    const configJson = await blobText(archive, configDesc, `${where}.config`);
    const config = parseConfig(configJson, where);
    if (!Array.isArray(manifest.layers)) throw archiveInvalid(`${where}: manifest has no layers`);
    const layers = manifest.layers.map((l, j) => checkDescriptor(l, `${where}.layers[${j}]`));
    if (layers.length !== config.rootfs.diff_ids.length) {
      throw archiveInvalid(`${where}: ${layers.length} layers but the config lists ${config.rootfs.diff_ids.length}`);
    }
    for (const l of layers) {
      const member = blobMember(l.digest);
      if (!archive.has(member)) throw archiveInvalid(`${where}: layer ${l.digest} is missing`);
      if (archive.stat(member).digest !== l.digest) throw archiveInvalid(`${where}: layer ${l.digest} does not match its digest`);
    }
    const annotations = manifestAnnotations(manifest, where);
    byManifest.set(desc.digest, { configJson, config, layerMembers: layers.map((l) => blobMember(l.digest)), names, ...(annotations ? { annotations } : {}) });
  }
  return [...byManifest.values()];
}

/** Save images as an OCI image layout tar (uncompressed layers). */
export async function saveOciLayout(ctx: ArchiveContext, refs: string[]): Promise<Readable> {
  return packOciLayout(ctx, await resolveSaveSet(ctx, refs));
}

/** The archive of images already resolved, with the names to give them in it. */
export async function packOciLayout(ctx: ArchiveContext, items: SaveItem[]): Promise<Readable> {
  return packArchive(async (pack) => {
    const blobs = new BlobWriter(pack, ctx);
    await blobs.dirs();
    const manifests: Array<Record<string, unknown>> = [];
    for (const { record, names, descriptorAnnotations } of items) {
      const { manifest } = await blobs.image(record);
      const base = { mediaType: MEDIA_TYPES.ociManifest, digest: manifest.digest, size: manifest.size };
      const own = descriptorAnnotations && Object.keys(descriptorAnnotations).length ? descriptorAnnotations : undefined;
      if (!names.length) manifests.push(own ? { ...base, annotations: own } : base);
      for (const n of names) manifests.push({ ...base, annotations: { ...own, ...nameAnnotations(n) } });
    }
    await addBuffer(pack, 'oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
    await addBuffer(pack, 'index.json', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests })));
  });
}

/**
 * A multi-platform build's OCI layout tarball: each platform's image, an OCI index naming them
 * with their platforms, and `index.json` pointing at that index (under each of `names`), as
 * BuildKit's oci exporter writes one.
 */
export async function packOciIndexLayout(ctx: ArchiveContext, entries: Array<{ record: ImageRecord; platform: Platform }>, names: string[], onIndex?: (digest: Digest) => void): Promise<Readable> {
  return packArchive(async (pack) => {
    const blobs = new BlobWriter(pack, ctx);
    await blobs.dirs();
    const manifests = [];
    for (const { record, platform } of entries) {
      const { manifest } = await blobs.image(record);
      manifests.push({ mediaType: MEDIA_TYPES.ociManifest, digest: manifest.digest, size: manifest.size, platform: { architecture: platform.architecture, os: platform.os, ...(platform.variant ? { variant: platform.variant } : {}) } });
    }
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests }));
    const digest = sha256(index);
    onIndex?.(digest);
    await blobs.bytes(digest, index);
    const base = { mediaType: MEDIA_TYPES.ociIndex, digest, size: index.length };
    const top = names.length ? names.map((n) => ({ ...base, annotations: nameAnnotations(n) })) : [base];
    await addBuffer(pack, 'oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
    await addBuffer(pack, 'index.json', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: top })));
  });
}
