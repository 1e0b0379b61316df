import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, utimes } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TbuildError } from '../../errors.js';
import { sha256, type Digest } from '../../util/digest.js';
import { oncePerBuild } from './once-per-build.js';
import { linkInto, lookupHttp, storeHttp } from './http-cache.js';

/** `ADD https://…`: a source fetched over HTTP(S). Git sources stay refused. */
export function isHttpSource(src: string): boolean {
  return /^https?:\/\//i.test(src);
}

export interface Downloaded {
  /** Directory holding the one file (the copy's source root). */
  dir: string;
  /** The file's name: from Content-Disposition, else the URL path's last part, else `index`. */
  name: string;
  digest: Digest;
}

/** Headers and body chunks each have this long before the download is given up, never a hang. */
const STALL_MS = 30_000;

/** `sha256:<hex>` as `ADD --checksum` takes it; other algorithms are refused by name. */
export function parseChecksum(text: string): Digest {
  if (/^sha256:[a-f0-9]{64}$/.test(text)) return text as Digest;
  const algo = /^([a-z0-9]+):/.exec(text)?.[1];
  throw new TbuildError('TB_INVALID_ARGUMENT', algo && algo !== 'sha256'
    ? `ADD --checksum=${text}: the ${algo} algorithm is not supported (sha256 is)`
    : `ADD --checksum=${text}: want sha256:<64 hex digits>`);
}

function fileName(url: URL, disposition: string | null): string {
  const m = disposition && /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
  const fromHeader = m ? posix.basename(decodeURIComponent(m[1]!)) : '';
  if (fromHeader && fromHeader !== '.' && fromHeader !== '..') return fromHeader;
  const base = posix.basename(decodeURIComponent(url.pathname));
  return base && base !== '/' && base !== '.' && base !== '..' ? base : 'index';
}

/**
 * Download `url` into a fresh directory under `tmp` (as BuildKit's http source: mode 0600, mtime
 * from Last-Modified), hashing it on the way; with `checksum`, a different digest is an error
 * naming both. Redirects are followed; a status other than 2xx is an error naming it.
 */
export async function download(url: string, tmp: string, signal?: AbortSignal, checksum?: Digest, label = 'ADD', cacheRoot?: string): Promise<Downloaded> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TbuildError('TB_INVALID_ARGUMENT', `${label} ${url}: not a valid URL`);
  }
  // what this root downloaded from the URL before: asked for again only if it changed
  const cached = cacheRoot !== undefined ? await lookupHttp(cacheRoot, url) : undefined;
  const headers: Record<string, string> = {};
  if (cached?.etag) headers['if-none-match'] = cached.etag;
  if (cached?.lastModified) headers['if-modified-since'] = cached.lastModified;
  const stall = AbortSignal.timeout(STALL_MS);
  let res: Response;
  try {
    res = await fetch(parsed, { redirect: 'follow', headers, signal: signal ? AbortSignal.any([signal, stall]) : stall });
  } catch (err) {
    throw new TbuildError('TB_ADD_HTTP', `${label} ${url}: ${(err as Error).name === 'TimeoutError' ? `no answer within ${STALL_MS / 1000} s` : ((err as { cause?: Error }).cause?.message ?? (err as Error).message)}`, { cause: err });
  }
  const dir = join(tmp, `http-${sha256(url).slice(7, 23)}-${Math.random().toString(16).slice(2, 8)}`);
  if (res.status === 304 && cached) {
    await res.body?.cancel().catch(() => {});
    await mkdir(dir, { recursive: true });
    if (await linkInto(cacheRoot!, cached, join(dir, cached.name))) {
      if (checksum && cached.digest !== checksum) {
        throw new TbuildError('TB_ADD_CHECKSUM_MISMATCH', `${label} ${url}: digest mismatch: expected ${checksum}, got ${cached.digest}`, { details: { expected: checksum, got: cached.digest } });
      }
      return { dir, name: cached.name, digest: cached.digest };
    }
    // the stored body went (pruned, replaced by another build): download it whole
    return download(url, tmp, signal, checksum, label);
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel().catch(() => {});
    throw new TbuildError('TB_ADD_HTTP', `${label} ${url}: ${res.status} ${res.statusText}`.trimEnd(), { details: { status: res.status } });
  }
  await mkdir(dir, { recursive: true });
  const name = fileName(parsed, res.headers.get('content-disposition'));
  const hash = createHash('sha256');
  let last = Date.now();
  const idle = setInterval(() => {
    if (Date.now() - last > STALL_MS) body.destroy(new TbuildError('TB_ADD_HTTP', `${label} ${url}: the download stalled for ${STALL_MS / 1000} s`));
  }, 1000);
  const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
  try {
    await pipeline(
      body,
      new Transform({
        transform(chunk: Buffer, _e, cb) {
          last = Date.now();
          hash.update(chunk);
          cb(null, chunk);
        },
      }),
      createWriteStream(join(dir, name), { mode: 0o600 }),
    );
  } catch (err) {
    if (err instanceof TbuildError) throw err;
    throw new TbuildError('TB_ADD_HTTP', `${label} ${url}: ${(err as Error).message}`, { cause: err });
  } finally {
    clearInterval(idle);
  }
  const digest = `sha256:${hash.digest('hex')}` as Digest;
  if (checksum && digest !== checksum) {
    throw new TbuildError('TB_ADD_CHECKSUM_MISMATCH', `${label} ${url}: digest mismatch: expected ${checksum}, got ${digest}`, { details: { expected: checksum, got: digest } });
  }
  const lastModified = res.headers.get('last-modified') ?? undefined;
  const modified = Date.parse(lastModified ?? '');
  if (Number.isFinite(modified)) await utimes(join(dir, name), modified / 1000, modified / 1000);
  const etag = res.headers.get('etag') ?? undefined;
  if (cacheRoot !== undefined && (etag || lastModified)) {
    await storeHttp(cacheRoot, { url, ...(etag ? { etag } : {}), ...(lastModified ? { lastModified } : {}), name, digest }, join(dir, name));
  }
  return { dir, name, digest };
}

/** One download per URL per build: the cache key and the copy share it. */
export function downloadOnce(build: object, url: string, tmp: string, signal?: AbortSignal, checksum?: Digest, cacheRoot?: string): Promise<Downloaded> {
  return oncePerBuild(build, `download\0${url}`, () => download(url, tmp, signal, checksum, 'ADD', cacheRoot));
}
