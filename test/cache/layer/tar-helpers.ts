import tar from 'tar-stream';
import type { Readable } from 'node:stream';

export interface TarEntrySpec {
  name: string;
  type?: 'file' | 'link' | 'symlink' | 'directory' | 'character-device' | 'block-device' | 'fifo';
  content?: string | Buffer;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string>;
}

/** Build a tar archive in memory with tar-stream, exactly as given (including hostile names). */
export async function makeTar(entries: TarEntrySpec[]): Promise<Buffer> {
  const pack = tar.pack();
  const out: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) out.push(Buffer.from(c as Uint8Array));
  })();
  for (const e of entries) {
    const { content, ...header } = e;
    const body = content === undefined ? undefined : Buffer.from(content);
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      const h = { type: 'file' as const, mode: 0o644, mtime: new Date(1_600_000_000_000), ...header };
      if (body) pack.entry({ ...h, size: body.length }, body, cb);
      else pack.entry(h, cb);
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(out);
}

/** Headers of every entry in a tar, in order. */
export async function listTar(data: Buffer): Promise<tar.Header[]> {
  const ex = tar.extract();
  const headers: tar.Header[] = [];
  ex.end(data);
  for await (const e of ex) {
    headers.push(e.header);
    e.resume();
  }
  return headers;
}

export async function collect(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(parts);
}
