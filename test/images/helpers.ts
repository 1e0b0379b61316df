import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { openContentStore } from '../../src/cache/content-store.js';
import { openSnapshotter } from '../../src/cache/snapshotter.js';
import { layerConverter } from '../../src/cache/layer/index.js';
import { openImageStore } from '../../src/images/image-store.js';
import type { ArchiveContext } from '../../src/images/load-plan.js';

/** A state root's storage parts and image store, as the engine wires them. */
export async function openStore(root: string): Promise<ArchiveContext & { images: Awaited<ReturnType<typeof openImageStore>> }> {
  const content = await openContentStore(root);
  const snapshots = await openSnapshotter(root);
  const layers = layerConverter;
  const images = await openImageStore({ root, content, snapshots, layers });
  return { root, content, snapshots, layers, images };
}

export interface TarEntry {
  name: string;
  content?: string | Buffer;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  linkname?: string;
  mode?: number;
}

/** Build a tar in memory. */
export async function makeTar(entries: TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) {
    const type = e.type ?? 'file';
    const body = e.content === undefined ? undefined : Buffer.from(e.content);
    await new Promise<void>((res, rej) => {
      const header = {
        name: e.name,
        type,
        mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
        mtime: new Date(0),
        ...(e.linkname ? { linkname: e.linkname } : {}),
        ...(body ? { size: body.length } : {}),
      };
      if (body) pack.entry(header, body, (err) => (err ? rej(err) : res()));
      else pack.entry(header, (err) => (err ? rej(err) : res()));
    });
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

export function streamOf(b: Buffer): Readable {
  return Readable.from([b]);
}

/** Names and contents of a tar's regular-file members. */
export async function readTar(data: Buffer): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const extract = tar.extract();
  Readable.from([data]).pipe(extract);
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(Buffer.from(c as Uint8Array));
    if (entry.header.type === 'file') out.set(entry.header.name, Buffer.concat(chunks));
  }
  return out;
}

/** Every committed snapshot name and every blob digest of a root (for "nothing left behind" checks). */
export async function inventory(ctx: ArchiveContext): Promise<{ snapshots: string[]; blobs: string[] }> {
  const snapshots: string[] = [];
  for await (const s of ctx.snapshots.walk()) snapshots.push(`${s.kind}:${s.name}`);
  const blobs: string[] = [];
  for await (const b of ctx.content.walk()) blobs.push(b.digest);
  return { snapshots: snapshots.sort(), blobs: blobs.sort() };
}
