import { mkdir, cp } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { ImageConfig, ImageRecord } from '../images/types.js';
import { buildManifest } from '../images/manifest.js';
import { packDockerArchive } from '../images/docker-archive.js';
import { packOciLayout } from '../images/oci-layout.js';
import { normalizeTagReference } from '../images/reference.js';
import { sha256, type Digest } from '../util/digest.js';
import { writeStreamAtomic } from '../util/atomic.js';
import { TbuildError } from '../errors.js';
import type { OutputSpec } from '../build/types.js';
import { writesManifest, type ImageAnnotations } from '../build/annotations.js';
import { storedImageLines } from './progress-lines.js';
import type { VertexResult } from '../solver/result.js';
import type { OpEnv } from '../worker/types.js';
import { withView } from '../worker/snapshot.js';
import type { Destination, Exporter, ExportInput } from './types.js';
import { writing } from '../util/no-space.js';

async function write(dest: Destination, stream: Readable): Promise<void> {
  if ('stream' in dest) await pipeline(stream, dest.stream, { end: false });
  else await writeStreamAtomic(dest.path, stream);
}

/** `dest=-` means the stream the caller gave; without one there is nowhere to write. */
function destination(dest: string, type: string, stream: NodeJS.WritableStream | undefined): Destination {
  if (dest !== '-') return { path: dest };
  if (!stream) throw new TbuildError('TB_INVALID_ARGUMENT', `--output type=${type},dest=- needs an output stream, and this caller gave none`);
  return { stream };
}

/** Pushes one stored image under a name to its registry (the build's step around the engine's push). */
export type PushFn = (name: string) => Promise<void>;

/**
 * The exporter for one output spec. A plain `image` needs none: storing the image is every build's
 * first output. With `push`, it pushes every name it has (its own, else the build's tags).
 */
export function exporterFor(spec: OutputSpec, env: OpEnv, stream: NodeJS.WritableStream | undefined, push?: PushFn): Exporter | undefined {
  const parts = env.parts;
  switch (spec.type) {
    case 'image': {
      if (!spec.push) return undefined;
      if (!push) throw new TbuildError('TB_INVALID_ARGUMENT', '--output push=true (type=registry, --push): this engine has no registry access');
      return {
        export: async ({ tags }: ExportInput) => {
          const names = spec.names?.length ? spec.names : tags;
          if (!names.length) throw new TbuildError('TB_INVALID_ARGUMENT', 'push needs a name: give -t NAME or name= in --output');
          for (const n of names) await push(n);
        },
      };
    }
    case 'docker': {
      const to = destination(spec.dest, spec.type, stream);
      return { export: async (input: ExportInput) => write(to, await packDockerArchive(parts, [archiveItem(input, spec)])) };
    }
    case 'oci': {
      const to = destination(spec.dest, spec.type, stream);
      return { export: async (input: ExportInput) => write(to, await packOciLayout(parts, [{ ...archiveItem(input, spec), descriptorAnnotations: input.descriptorAnnotations }])) };
    }
    case 'tar': {
      const to = destination(spec.dest, spec.type, stream);
      return { export: ({ result }: ExportInput) => withView(env, result, (dir) => write(to, parts.layers.tarFromDir(dir))) };
    }
    case 'local': {
      if (spec.dest === '-') throw new TbuildError('TB_INVALID_ARGUMENT', '--output type=local needs a directory as dest, not -');
      return {
        export: async ({ result }: ExportInput) => {
          await mkdir(spec.dest, { recursive: true });
          await withView(env, result, (dir) =>
            writing(`the local output ${spec.dest}`, () => cp(dir, spec.dest, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true, force: true })),
          );
        },
      };
    }
  }
}

export interface Exported {
  record: ImageRecord;
  /** Manifest digest. */
  digest: Digest;
}

/** Store the image (tagged with `tags`), then run every requested exporter. */
/** The built image, named in the archive as the output or the first tag says (not via the store). */
function archiveItem({ record, tags }: ExportInput, spec: OutputSpec): { record: ImageRecord; names: string[] } {
  const name = ('names' in spec ? spec.names?.[0] : undefined) ?? tags[0];
  return { record, names: name ? [normalizeTagReference(name)] : [] };
}

export async function exportResult(
  env: OpEnv,
  config: ImageConfig,
  result: VertexResult,
  tags: string[],
  outputs: OutputSpec[],
  opts: {
    stream?: NodeJS.WritableStream;
    push?: PushFn;
    annotations?: ImageAnnotations;
    /** BuildKit's lines under `exporting to image`: `exporting layers`, `writing image …`, `naming to …`. */
    status?: (line: string, completed: boolean) => void;
  } = {},
): Promise<Exported> {
  const { stream, push, annotations = { manifest: {}, manifestDescriptor: {} } } = opts;
  const status = opts.status ?? (() => {});
  const parts = env.parts;
  // Every destination is checked before anything is written: a bad `dest=-` fails the build up front.
  for (const o of outputs) {
    if (o.type === 'image' && o.push && !(o.names?.length || tags.length)) {
      throw new TbuildError('TB_INVALID_ARGUMENT', 'push needs a name: give -t NAME or name= in --output');
    }
  }
  const exporters = outputs.map((o) => exporterFor(o, env, stream, push)).filter((e): e is Exporter => !!e);
  const names = [...tags];
  for (const o of outputs) if (writesManifest(o) && 'names' in o && o.names) names.push(...o.names);
  // BuildKit's rule: only the image exporter puts the result in the store. The other exporters
  // read it from there, so it is made for them and taken away again (unless it was already there).
  const toStore = outputs.some((o) => o.type === 'image');
  const before = toStore ? undefined : new Set((await parts.images.list()).map((i) => i.id));
  // The stored image's manifest takes the build's annotations only when the image output asks for
  // it; an archive-only build leaves an image that was already there as it was.
  status('exporting layers', false);
  const stored = await parts.images.create({ config, layers: result.layers, names: toStore ? [...new Set(names)] : [], ...(toStore ? { annotations: annotations.manifest } : {}) });
  status('exporting layers', true);
  for (const line of storedImageLines(stored.id, toStore ? names : [])) status(line, true);
  const { annotations: _kept, ...bare } = stored;
  const record: ImageRecord = Object.keys(annotations.manifest).length ? { ...bare, annotations: annotations.manifest } : bare;
  try {
    const info = await parts.content.info(record.id);
    const digest = sha256(buildManifest({ digest: record.id, size: info?.size ?? 0 }, record.layers, record.annotations));
    const name = tags[0] ?? record.id;
    for (const e of exporters) await e.export({ record, result, name, tags, descriptorAnnotations: annotations.manifestDescriptor });
    return { record, digest };
  } finally {
    if (before && !before.has(record.id)) await parts.images.remove(record.id, { force: true }).catch(() => {});
  }
}
