import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import type { ImageRecord } from './types.js';
import type { Digest } from '../util/digest.js';
import { digestHex } from '../util/digest.js';
import { parseReference, repositoryName, formatReference, tryParseReference } from './reference.js';
import { exportLayer } from './layers.js';
import { buildManifest } from './manifest.js';
import type { ArchiveContext } from './load-plan.js';
import { TbuildError } from '../errors.js';

/** One image to save with the names to record for it (normalized). */
export interface SaveItem {
  record: ImageRecord;
  names: string[];
  /** Annotations for the manifest's descriptor in the archive's index.json (`manifest-descriptor`). */
  descriptorAnnotations?: Record<string, string>;
}

/**
 * Resolve `save` arguments as Docker does: a tagged name saves that tag; a bare repository saves
 * every tag of it; an id saves the image without names. Duplicates merge.
 */
export async function resolveSaveSet(ctx: ArchiveContext, refs: string[]): Promise<SaveItem[]> {
  const byId = new Map<string, SaveItem>();
  const all = await ctx.images.list();
  for (const ref of refs) {
    const items: SaveItem[] = [];
    const parsed = tryParseReference(ref);
    if (parsed && parsed.tag === undefined && parsed.digest === undefined) {
      const repo = repositoryName(parsed);
      for (const img of all) {
        const names = img.names.filter((n) => repositoryName(parseReference(n)) === repo);
        if (names.length) items.push({ record: img, names });
      }
    }
    if (!items.length) {
      const img = await ctx.images.resolve(ref);
      let names: string[] = [];
      if (parsed && parsed.digest === undefined) {
        const n = formatReference({ ...parsed, tag: parsed.tag ?? 'latest' });
        if (img.names.includes(n)) names = [n];
      }
      items.push({ record: img, names });
    }
    for (const it of items) {
      const prev = byId.get(it.record.id);
      if (prev) prev.names = [...new Set([...prev.names, ...it.names])];
      else byId.set(it.record.id, { record: it.record, names: [...it.names] });
    }
  }
  return [...byId.values()];
}

/** Writes `blobs/sha256/<hex>` members once each, in the given tar pack. */
export class BlobWriter {
  readonly #pack: tar.Pack;
  readonly #ctx: ArchiveContext;
  readonly #written = new Set<string>();

  constructor(pack: tar.Pack, ctx: ArchiveContext) {
    this.#pack = pack;
    this.#ctx = ctx;
  }

  async dirs(): Promise<void> {
    await addDir(this.#pack, 'blobs/');
    await addDir(this.#pack, 'blobs/sha256/');
  }

  static member(d: Digest): string {
    return `blobs/sha256/${digestHex(d)}`;
  }

  async bytes(d: Digest, data: Buffer | string): Promise<string> {
    const name = BlobWriter.member(d);
    if (!this.#written.has(name)) {
      this.#written.add(name);
      await addBuffer(this.#pack, name, Buffer.from(data));
    }
    return name;
  }

  /** Config, layers and the OCI manifest of one image; returns the member names and manifest descriptor. */
  async image(record: ImageRecord): Promise<{ config: string; layers: string[]; manifest: { digest: Digest; size: number } }> {
    const configBytes = await this.#ctx.content.read(record.id);
    const config = await this.bytes(record.id, configBytes);
    const layers: string[] = [];
    for (const l of record.layers) {
      const name = BlobWriter.member(l.diffId);
      if (!this.#written.has(name)) {
        this.#written.add(name);
        const { stream, size } = await exportLayer(this.#ctx, l);
        await addStream(this.#pack, name, stream, size);
      }
      layers.push(name);
    }
    const manifestJson = buildManifest({ digest: record.id, size: configBytes.length }, record.layers, record.annotations);
    const info = await this.#ctx.content.put(manifestJson);
    await this.bytes(info.digest, manifestJson);
    return { config, layers, manifest: { digest: info.digest, size: info.size } };
  }
}

const MTIME = new Date(0);

export function addDir(pack: tar.Pack, name: string): Promise<void> {
  return new Promise((res, rej) => {
    pack.entry({ name, type: 'directory', mode: 0o755, mtime: MTIME }, (err) => (err ? rej(err) : res()));
  });
}

export function addBuffer(pack: tar.Pack, name: string, data: Buffer): Promise<void> {
  return new Promise((res, rej) => {
    pack.entry({ name, size: data.length, mode: 0o644, mtime: MTIME }, data, (err) => (err ? rej(err) : res()));
  });
}

export async function addStream(pack: tar.Pack, name: string, stream: Readable, size: number): Promise<void> {
  let done!: Promise<void>;
  const entry = await new Promise<NodeJS.WritableStream>((resolveEntry) => {
    done = new Promise((res, rej) => {
      resolveEntry(pack.entry({ name, size, mode: 0o644, mtime: MTIME }, (err) => (err ? rej(err) : res())));
    });
  });
  done.catch(() => {});
  await pipeline(stream, entry);
  await done;
}

/** Run `fill` against a new tar pack and hand out the pack as the archive stream; errors destroy it. */
export function packArchive(fill: (pack: tar.Pack) => Promise<void>): Readable {
  const pack = tar.pack();
  fill(pack).then(
    () => pack.finalize(),
    (err: unknown) => pack.destroy(err instanceof Error ? err : new TbuildError('TB_INTERNAL', String(err))),
  );
  return Readable.from(pack, { objectMode: false });
}

/** `io.containerd.image.name` / `org.opencontainers.image.ref.name`, as Docker 25+ writes them. */
export function nameAnnotations(name: string): Record<string, string> {
  const ref = parseReference(name);
  return {
    'io.containerd.image.name': name,
    ...(ref.tag !== undefined ? { 'org.opencontainers.image.ref.name': ref.tag } : {}),
  };
}
