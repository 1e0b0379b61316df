import { copyFile, link, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { markUsed, sourceCacheEntry } from './source-cache-entry.js';
import type { SourceCacheEntry } from '../types.js';
import { redactCredentials } from '../../util/redact-url.js';
import { join } from 'node:path';
import { writeJsonAtomic } from '../../util/atomic.js';
import { digestHex, sha256, type Digest } from '../../util/digest.js';
import { withFileLock } from '../../util/file-lock.js';

/**
 * What `ADD https://…` downloaded last, kept in the root with the validators the server gave
 * (ETag, Last-Modified), so the next download of the URL asks `If-None-Match`/`If-Modified-Since`
 * and a 304 reuses the file, as BuildKit's HTTP source does. The body is stored under its digest
 * and linked into a build's scratch: never written in place, so a reader never sees half a file.
 */
export interface HttpCacheEntry {
  url: string;
  etag?: string;
  lastModified?: string;
  /** The file name the download was given (Content-Disposition or the URL), not resent with a 304. */
  name: string;
  digest: Digest;
}

export function httpCacheDir(root: string): string {
  return join(root, 'cache', 'http');
}

const entryDir = (root: string, url: string): string => join(httpCacheDir(root), digestHex(sha256(url)).slice(0, 32));

/** The entry for `url`, if one was stored (its body may since have been replaced: `linkInto` says). */
export async function lookupHttp(root: string, url: string): Promise<HttpCacheEntry | undefined> {
  try {
    const e = JSON.parse(await readFile(join(entryDir(root, url), 'entry.json'), 'utf8')) as HttpCacheEntry;
    return e.url === url && (e.etag || e.lastModified) ? e : undefined;
  } catch {
    return undefined;
  }
}

/** Put the entry's body at `dest`; false when it is gone (replaced or pruned meanwhile). */
export async function linkInto(root: string, e: HttpCacheEntry, dest: string): Promise<boolean> {
  const body = join(entryDir(root, e.url), digestHex(e.digest));
  try {
    await link(body, dest);
    await markUsed(entryDir(root, e.url));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') return false;
    return copyFile(body, dest).then(() => true, () => false);
  }
}

/** Keep `file` as `url`'s body (best effort: a cache that cannot be written only costs a download). */
export async function storeHttp(root: string, e: HttpCacheEntry, file: string): Promise<void> {
  const dir = entryDir(root, e.url);
  await withFileLock(`${dir}.lock`, async () => {
    await mkdir(dir, { recursive: true });
    const body = join(dir, digestHex(e.digest));
    await link(file, body).catch((err: NodeJS.ErrnoException) => (err.code === 'EEXIST' ? undefined : err.code === 'EXDEV' ? copyFile(file, body) : Promise.reject(err)));
    await writeJsonAtomic(join(dir, 'entry.json'), e);
    // bodies of earlier versions go; a build that looked one up now downloads again
    for (const f of await readdir(dir)) if (f !== 'entry.json' && f !== digestHex(e.digest)) await rm(join(dir, f), { force: true });
  }).catch(() => {});
}

/** The stored downloads, as `builder du` lists BuildKit's (`regular`, "http url …"); each removed under its lock. */
export async function httpCacheEntries(root: string): Promise<SourceCacheEntry[]> {
  const dir = httpCacheDir(root);
  const out: SourceCacheEntry[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (name.endsWith('.lock')) continue;
    const entry = join(dir, name);
    const url = await readFile(join(entry, 'entry.json'), 'utf8').then((t) => (JSON.parse(t) as HttpCacheEntry).url, () => name);
    const e = await sourceCacheEntry(entry, {
      id: `http-${name}`,
      type: 'regular',
      description: `http url ${redactCredentials(url)}`,
      remove: () =>
        withFileLock(`${entry}.lock`, async () => {
          await rm(entry, { recursive: true, force: true });
          return true;
        }),
    });
    if (e) out.push(e);
  }
  return out;
}
