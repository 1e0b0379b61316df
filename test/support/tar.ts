import { execFileSync } from 'node:child_process';
import { buffer } from 'node:stream/consumers';
import { gzipSync } from 'node:zlib';
import { pack, type Header } from 'tar-stream';

export interface TarEntry {
  name: string;
  type?: Header['type'];
  content?: string;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  devmajor?: number;
  devminor?: number;
  /** PAX records (`path`, `linkpath` …) written before the entry. */
  pax?: Record<string, string>;
}

/** An uncompressed tar of `entries`, in order (hostile names are written as given). */
export async function makeTar(entries: TarEntry[]): Promise<Buffer> {
  const p = pack();
  const out = buffer(p);
  for (const e of entries) {
    const type = e.type ?? 'file';
    const header = {
      name: e.name,
      type,
      mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: e.mtime ?? new Date(1_700_000_000_000),
      ...(e.linkname !== undefined ? { linkname: e.linkname } : {}),
      ...(e.devmajor !== undefined ? { devmajor: e.devmajor, devminor: e.devminor ?? 0 } : {}),
      ...(e.pax ? { pax: e.pax } : {}),
    };
    if (type === 'file') p.entry(header, e.content ?? '');
    else p.entry({ ...header, size: 0 });
  }
  p.finalize();
  return out;
}

export type TarCompression = 'none' | 'gzip' | 'bzip2' | 'xz' | 'zstd';

/** Compress with the system tools (the formats `docker build -` and ADD accept). */
export function compress(data: Buffer, kind: TarCompression): Buffer {
  switch (kind) {
    case 'none':
      return data;
    case 'gzip':
      return gzipSync(data);
    default:
      return execFileSync(kind, ['-c'], { input: data, maxBuffer: 1 << 28 });
  }
}
