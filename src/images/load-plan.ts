import { join } from 'node:path';
import type { ImageConfig, ImageStore } from './types.js';
import type { ContentStore, LayerConverter, Snapshotter } from '../cache/types.js';
import { isDigest, type Digest } from '../util/digest.js';
import { importLayers } from './layers.js';
import { archiveInvalid, type StagedArchive } from './archive-reader.js';
import { normalizeTagReference } from './reference.js';
import { isTbuildError } from '../errors.js';

/** What loading and saving archives needs from an engine (the Engine satisfies it). */
export interface ArchiveContext {
  root: string;
  images: ImageStore;
  content: ContentStore;
  snapshots: Snapshotter;
  layers: LayerConverter;
  /** Engine-wide `SOURCE_DATE_EPOCH` (seconds): the creation time of imported images. */
  sourceDateEpoch?: number;
}

/** Where archives are staged while they load: on the state root's filesystem, swept at open. */
export function stagingRoot(root: string): string {
  return join(root, 'images', 'tmp');
}

/** One image of an archive, checked and ready to be stored. */
export interface LoadPlan {
  configJson: string;
  config: ImageConfig;
  /** Archive member of each layer, bottom-up (parallel to config.rootfs.diff_ids). */
  layerMembers: string[];
  /** Normalized names to tag it with. */
  names: string[];
  /** The manifest's annotations, when the archive has the manifest (OCI layout). */
  annotations?: Record<string, string>;
}

export interface LoadedImage {
  id: Digest;
  /** Normalized names it was tagged with. */
  names: string[];
  /** Names that moved here from another image (Docker prints "renaming the old one"). */
  moved?: Array<{ name: string; from: Digest }>;
}

/** Parse and check an image config from an archive. */
export function parseConfig(text: string, where: string): ImageConfig {
  let c: unknown;
  try {
    c = JSON.parse(text);
  } catch (err) {
    throw archiveInvalid(`${where}: config is not valid JSON: ${(err as Error).message}`, err);
  }
  const cfg = c as Partial<ImageConfig> | null;
  if (!cfg || typeof cfg !== 'object' || Array.isArray(cfg)) throw archiveInvalid(`${where}: config is not a JSON object`);
  const rootfs = cfg.rootfs as { type?: unknown; diff_ids?: unknown } | undefined;
  if (!rootfs || rootfs.type !== 'layers' || !Array.isArray(rootfs.diff_ids)) {
    throw archiveInvalid(`${where}: config has no rootfs.diff_ids`);
  }
  for (const d of rootfs.diff_ids) {
    if (typeof d !== 'string' || !isDigest(d)) throw archiveInvalid(`${where}: bad diffID ${JSON.stringify(d)}`);
  }
  if (cfg.config !== undefined && (cfg.config === null || typeof cfg.config !== 'object')) {
    throw archiveInvalid(`${where}: config.config is not an object`);
  }
  return { ...cfg, config: cfg.config ?? {} } as ImageConfig;
}

/** Names from an archive: invalid ones make the archive invalid rather than silently vanish. */
export function parseNames(names: unknown, where: string): string[] {
  if (names === null || names === undefined) return [];
  if (!Array.isArray(names)) throw archiveInvalid(`${where}: RepoTags is not a list`);
  return names.map((n) => {
    if (typeof n !== 'string') throw archiveInvalid(`${where}: bad RepoTag ${JSON.stringify(n)}`);
    try {
      return normalizeTagReference(n);
    } catch (err) {
      throw archiveInvalid(`${where}: bad RepoTag ${JSON.stringify(n)}: ${(err as Error).message}`, err);
    }
  });
}

/** Errors that mean the archive's layer data is bad (rather than our storage failing). */
const LAYER_DATA_ERRORS = new Set<string>(['TB_TAR_HOSTILE', 'TB_TAR_FORMAT', 'TB_PATH_ESCAPE', 'TB_CONTENT_DIGEST_MISMATCH', 'TB_CONTENT_SIZE_MISMATCH']);

/** Store checked plans: layers first (shared by chain id), then the image and its names. */
export async function commitPlans(ctx: ArchiveContext, archive: StagedArchive, plans: LoadPlan[]): Promise<LoadedImage[]> {
  const out: LoadedImage[] = [];
  for (const plan of plans) {
    const layers = await importLayers(
      ctx,
      plan.config.rootfs.diff_ids.map((diffId, i) => ({ diffId, open: () => archive.open(plan.layerMembers[i]!) })),
    ).catch((err: unknown) => {
      if (isTbuildError(err) && !LAYER_DATA_ERRORS.has(err.code)) throw err;
      throw archiveInvalid(`invalid layer: ${(err as Error).message}`, err);
    });
    const moved: Array<{ name: string; from: Digest }> = [];
    for (const name of plan.names) {
      const prev = await ctx.images.get(name);
      if (prev) moved.push({ name, from: prev.id });
    }
    const img = await ctx.images.create({ config: plan.config, configJson: plan.configJson, layers, names: plan.names, ...(plan.annotations ? { annotations: plan.annotations } : {}) });
    const reallyMoved = moved.filter((m) => m.from !== img.id);
    out.push({ id: img.id, names: plan.names, ...(reallyMoved.length ? { moved: reallyMoved } : {}) });
  }
  return out;
}
