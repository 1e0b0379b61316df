import type { Readable } from 'node:stream';
import { mkdir } from 'node:fs/promises';
import { StagedArchive, archiveInvalid } from './archive-reader.js';
import { commitPlans, parseConfig, parseNames, stagingRoot, type ArchiveContext, type LoadedImage, type LoadPlan } from './load-plan.js';
import { planOciLayout } from './oci-layout.js';
import { BlobWriter, addBuffer, nameAnnotations, packArchive, resolveSaveSet, type SaveItem } from './archive-writer.js';
import { MEDIA_TYPES } from './manifest.js';
import { familiarName, familiarRepository, parseReference } from './reference.js';
import { digestHex, sha256 } from '../util/digest.js';

/**
 * `docker save` / `docker load` archives. Load takes the legacy layout (`<hex>.json` configs,
 * `<id>/layer.tar`) and the Docker 25+ one (`blobs/sha256/…` plus `index.json`), gzipped or not,
 * with plain or compressed layers; an archive with only `index.json` loads as an OCI layout.
 * Save writes the Docker 25+ layout, which `docker load`, `skopeo docker-archive:` and
 * `skopeo oci-archive:` all read.
 */

interface ManifestEntry {
  Config?: unknown;
  RepoTags?: unknown;
  Layers?: unknown;
}

/** Load every image in a docker-archive or OCI-layout tar. Nothing is stored unless the whole archive checks out. */
export async function loadImageArchive(ctx: ArchiveContext, input: Readable): Promise<LoadedImage[]> {
  const tmp = stagingRoot(ctx.root);
  await mkdir(tmp, { recursive: true });
  const archive = await StagedArchive.read(input, tmp);
  try {
    let plans: LoadPlan[];
    if (archive.has('manifest.json')) plans = await planDockerArchive(archive);
    else if (archive.has('index.json')) plans = await planOciLayout(archive);
    else throw archiveInvalid('invalid archive: no manifest.json or index.json (not a docker-archive or OCI layout)');
    return await commitPlans(ctx, archive, plans);
  } finally {
    await archive.dispose();
  }
}

/** Check the whole docker-archive before anything is stored. */
export async function planDockerArchive(archive: StagedArchive): Promise<LoadPlan[]> {
  const manifest = await archive.json<unknown>('manifest.json');
  if (!Array.isArray(manifest)) throw archiveInvalid('manifest.json is not a list');
  const plans: LoadPlan[] = [];
  for (const [i, raw] of manifest.entries()) {
    const e = raw as ManifestEntry | null;
    const where = `manifest.json[${i}]`;
    if (!e || typeof e !== 'object') throw archiveInvalid(`${where} is not an object`);
    if (typeof e.Config !== 'string') throw archiveInvalid(`${where} has no Config`);
    if (!Array.isArray(e.Layers) || e.Layers.some((l) => typeof l !== 'string')) {
      throw archiveInvalid(`${where} has no Layers list`);
    }
    const configJson = await archive.text(e.Config);
    checkNamedDigest(e.Config, configJson);
    const config = parseConfig(configJson, where);
    const layerMembers = e.Layers as string[];
    if (layerMembers.length !== config.rootfs.diff_ids.length) {
      throw archiveInvalid(`${where}: ${layerMembers.length} layers but the config lists ${config.rootfs.diff_ids.length}`);
    }
    for (const l of layerMembers) {
      const m = /(?:^|\/)blobs\/sha256\/([a-f0-9]{64})$/.exec(l);
      const st = archive.stat(l);
      if (m && digestHex(st.digest) !== m[1]) throw archiveInvalid(`${l}: content does not match its digest`);
    }
    plans.push({ configJson, config, layerMembers, names: parseNames(e.RepoTags, where) });
  }
  // Docker 25+ (and tbuild) archives are an OCI layout as well: its manifests carry what
  // manifest.json cannot, the annotations. manifest.json stays what is loaded.
  if (archive.has('index.json') && archive.has('oci-layout')) {
    const annotated = new Map<string, Record<string, string>>();
    for (const p of await planOciLayout(archive)) if (p.annotations) annotated.set(sha256(p.configJson), p.annotations);
    for (const p of plans) {
      const a = annotated.get(sha256(p.configJson));
      if (a) p.annotations = a;
    }
  }
  return plans;
}

/** A config whose member name carries its digest (`<hex>.json`, `blobs/sha256/<hex>`) must hash to it. */
function checkNamedDigest(member: string, content: string): void {
  const m = /(?:^|\/)([a-f0-9]{64})(?:\.json)?$/.exec(member);
  if (m && digestHex(sha256(content)) !== m[1]) {
    throw archiveInvalid(`${member}: content does not match its digest`);
  }
}

/** `docker save`: the Docker 25+ layout (OCI layout plus `manifest.json` and `repositories`). */
export async function saveDockerArchive(ctx: ArchiveContext, refs: string[]): Promise<Readable> {
  return packDockerArchive(ctx, await resolveSaveSet(ctx, refs));
}

/** The archive of images already resolved, with the names to give them in it. */
export async function packDockerArchive(ctx: ArchiveContext, items: SaveItem[]): Promise<Readable> {
  return packArchive(async (pack) => {
    const blobs = new BlobWriter(pack, ctx);
    await blobs.dirs();
    const manifest: Array<{ Config: string; RepoTags: string[] | null; Layers: string[] }> = [];
    const index: Array<Record<string, unknown>> = [];
    const repositories: Record<string, Record<string, string>> = {};
    for (const { record, names } of items) {
      const { config, layers, manifest: desc } = await blobs.image(record);
      manifest.push({ Config: config, RepoTags: names.length ? names.map((n) => familiarName(n)) : null, Layers: layers });
      const base = { mediaType: MEDIA_TYPES.ociManifest, digest: desc.digest, size: desc.size };
      if (!names.length) index.push(base);
      for (const n of names) {
        index.push({ ...base, annotations: nameAnnotations(n) });
        const ref = parseReference(n);
        const top = record.layers[record.layers.length - 1];
        if (ref.tag !== undefined && top) {
          (repositories[familiarRepository(ref)] ??= {})[ref.tag] = digestHex(top.diffId);
        }
      }
    }
    await addBuffer(pack, 'index.json', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: index })));
    await addBuffer(pack, 'manifest.json', Buffer.from(JSON.stringify(manifest)));
    await addBuffer(pack, 'oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
    if (Object.keys(repositories).length) await addBuffer(pack, 'repositories', Buffer.from(JSON.stringify(repositories)));
  });
}
