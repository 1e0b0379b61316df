import { mkdir, cp } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { EngineParts } from '../engine.js';
import type { HistoryEntry, ImageConfig, ImageRecord } from '../images/types.js';
import { buildManifest } from '../images/manifest.js';
import { saveDockerArchive } from '../images/docker-archive.js';
import { saveOciLayout } from '../images/oci-layout.js';
import { sha256, type Digest } from '../util/digest.js';
import { writeStreamAtomic } from '../util/atomic.js';
import { TbuildError } from '../errors.js';
import type { OutputSpec } from '../build/types.js';
import type { StageState } from '../frontend/dockerfile/index.js';
import type { VertexResult } from '../solver/result.js';
import type { OpEnv } from '../worker/env.js';
import { withView } from '../worker/snapshot.js';

/**
 * The image config of the target: config evolved by convert, layers from the solved result, and
 * history entries marked empty where a step added no layer (BuildKit drops empty layers).
 */
export function imageConfig(target: StageState, results: Map<Digest, VertexResult>, now: Date): { config: ImageConfig; result: VertexResult } {
  const result = results.get(target.vertex);
  if (!result) throw new TbuildError('TB_INTERNAL', 'target result missing');
  const sde = process.env.SOURCE_DATE_EPOCH;
  const epoch = sde && /^\d+$/.test(sde) ? new Date(Number(sde) * 1000).toISOString() : undefined;
  // Times come from the results (kept in the cache), so a fully cached rebuild is the same image.
  let created = epoch ?? result.created ?? now.toISOString();
  let last: string | undefined;
  const history: HistoryEntry[] = target.history.map((h) => {
    const { layer, ...entry } = h;
    if (layer) {
      const mine = results.get(layer.vertex);
      const parent = results.get(layer.parent);
      const added = !!mine && !!parent && mine.layers.length > parent.layers.length;
      if (!added) entry.empty_layer = true;
      else delete entry.empty_layer;
      if (added && mine.created) last = mine.created;
    }
    if (epoch) entry.created = epoch;
    else entry.created ??= last ?? created;
    if (entry.created) last = entry.created;
    return entry;
  });
  if (!epoch && last && last > created) created = last;
  const config: ImageConfig = {
    architecture: target.image.architecture,
    os: target.image.os,
    ...(target.image.variant ? { variant: target.image.variant } : {}),
    created,
    ...(target.image.author ? { author: target.image.author } : {}),
    config: target.image.config,
    rootfs: { type: 'layers', diff_ids: result.layers.map((l) => l.diffId) },
    history,
  };
  return { config, result };
}

async function writeStream(dest: string, stream: Readable): Promise<void> {
  if (dest === '-') {
    await pipeline(stream, process.stdout, { end: false });
    return;
  }
  await writeStreamAtomic(dest, stream);
}

export interface Exported {
  record: ImageRecord;
  /** Manifest digest. */
  digest: Digest;
}

/** Store the image (tagged with `tags`), then write every requested output. */
export async function exportResult(
  env: OpEnv,
  config: ImageConfig,
  result: VertexResult,
  tags: string[],
  outputs: OutputSpec[],
): Promise<Exported> {
  const parts: EngineParts = env.parts;
  const names = [...tags];
  for (const o of outputs) if ((o.type === 'image' || o.type === 'docker' || o.type === 'oci') && o.names) names.push(...o.names);
  const record = await parts.images.create({ config, layers: result.layers, names: [...new Set(names)] });
  const info = await parts.content.info(record.id);
  const digest = sha256(buildManifest({ digest: record.id, size: info?.size ?? 0 }, record.layers));
  for (const o of outputs) {
    switch (o.type) {
      case 'image':
        break;
      case 'docker':
        await writeStream(o.dest, await saveDockerArchive(parts, [o.names?.[0] ?? tags[0] ?? record.id]));
        break;
      case 'oci':
        await writeStream(o.dest, await saveOciLayout(parts, [o.names?.[0] ?? tags[0] ?? record.id]));
        break;
      case 'tar':
        await withView(env, result, (dir) => writeStream(o.dest, parts.layers.tarFromDir(dir)));
        break;
      case 'local':
        await mkdir(o.dest, { recursive: true });
        await withView(env, result, (dir) => cp(dir, o.dest, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true, force: true }));
        break;
    }
  }
  return { record, digest };
}
