import { chmod, mkdir, readFile, rm, stat } from 'node:fs/promises';
import { ownedName } from '../util/owned-temp.js';
import { checkDockerfileSize } from '../parser/parse.js';
import { isAbsolute, join, resolve } from 'node:path';
import { text as readAllText } from 'node:stream/consumers';
import { TbuildError } from '../errors.js';
import { IgnoreMatcher, loadDockerignore } from '../parser/dockerignore.js';
import { resolveInRoot } from '../util/confine.js';
import { decompress, detectCompression, isTarHeader, peek } from '../worker/file/archive.js';
import { untar } from '../worker/file/untar.js';
import { DirStatCache, statCachePath } from './stat-cache.js';
import { clearContentCache } from './content-cache.js';
import type { BuildContext, ContextSource, OpenContextOptions } from './types.js';

class Context implements BuildContext {
  readonly dir: string;
  readonly ignore: IgnoreMatcher;
  readonly statCache: DirStatCache;
  readonly dockerfilePath: string;
  readonly dockerfileText: string;
  readonly fromTar: boolean;
  readonly #release: (() => void) | undefined;
  #disposed = false;

  constructor(f: Omit<BuildContext, 'dispose'> & { ignore: IgnoreMatcher; statCache: DirStatCache; release?: () => void }) {
    this.#release = f.release;
    this.dir = f.dir;
    this.ignore = f.ignore;
    this.statCache = f.statCache;
    this.dockerfilePath = f.dockerfilePath;
    this.dockerfileText = f.dockerfileText;
    this.fromTar = f.fromTar;
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    clearContentCache(); // its entries served this build's COPYs; later builds re-read
    try {
      await this.statCache.save();
    } finally {
      if (this.fromTar) await rm(this.dir, { recursive: true, force: true });
      this.#release?.();
    }
  }
}

/** See `OpenContext` in ./types.ts. */
export async function openContext(src: ContextSource, opts: OpenContextOptions): Promise<BuildContext> {
  if (typeof src === 'string') return openDir(resolve(src), opts);
  if ('tree' in src) {
    try {
      return await openDir(src.tree, opts, src.release);
    } catch (err) {
      src.release();
      throw err;
    }
  }
  const tmpBase = join(resolve(opts.root), 'tmp');
  await mkdir(tmpBase, { recursive: true, mode: 0o700 });
  // Named after this process: a build's sweep removes what a dead process left (build.ts).
  const dir = join(tmpBase, ownedName('ctx'));
  await mkdir(dir, { mode: 0o700 });
  try {
    // Made 0700; a bind-mounted context must be readable by a non-root USER.
    await chmod(dir, 0o755);
    const inlineDockerfile = await extractContext(src.tar, dir, opts.signal).catch((err: unknown) => {
      // a compressed stream cut short fails while it is peeked at, before the extraction could name it
      if (!(err instanceof TbuildError) && /^Z_/.test((err as NodeJS.ErrnoException).code ?? '')) {
        throw new TbuildError('TB_TAR_FORMAT', `invalid build context archive: ${(err as Error).message}`, { cause: err });
      }
      throw err;
    });
    const dockerfilePath = await resolveInRoot(dir, opts.dockerfile ?? 'Dockerfile');
    const text = opts.dockerfileText ?? inlineDockerfile ?? (await readDockerfile(dockerfilePath, opts.dockerfile ?? 'Dockerfile'));
    return await finish(dir, dockerfilePath, text, true, undefined);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function openDir(dir: string, opts: OpenContextOptions, release?: () => void): Promise<BuildContext> {
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) {
    throw new TbuildError('TB_CONTEXT_INVALID', `unable to prepare context: path ${JSON.stringify(dir)} not found`, {
      details: { context: dir },
    });
  }
  const name = opts.dockerfile ?? 'Dockerfile';
  const dockerfilePath = isAbsolute(name) ? name : join(dir, name);
  const text = opts.dockerfileText ?? (await readDockerfile(dockerfilePath, name));
  return finish(dir, dockerfilePath, text, false, statCachePath(resolve(opts.root), dir), release);
}

/** `release`: the directory is a held tree (see HeldTree), given back on dispose. */
async function finish(dir: string, dockerfilePath: string, text: string, fromTar: boolean, cacheFile: string | undefined, release?: () => void): Promise<BuildContext> {
  const ignore = new IgnoreMatcher(await loadDockerignore(dir, dockerfilePath));
  const statCache = await DirStatCache.open(dir, cacheFile, { settled: release !== undefined });
  return new Context({ dir, ignore, statCache, dockerfilePath, dockerfileText: text, fromTar, ...(release ? { release } : {}) });
}

async function readDockerfile(path: string, name: string): Promise<string> {
  try {
    checkDockerfileSize((await stat(path)).size, name);
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') {
      throw new TbuildError('TB_CONTEXT_INVALID', `failed to read dockerfile: open ${name}: no such file or directory`, {
        details: { dockerfile: path },
      });
    }
    throw err;
  }
}

/**
 * Extract a context tar (plain/gzip/bzip2/xz/zstd) into `dir`. A stream that is neither a tar nor
 * compressed is a Dockerfile on its own (`docker build - < Dockerfile`): its text is returned and
 * the context is empty.
 */
async function extractContext(input: import('node:stream').Readable, dir: string, signal?: AbortSignal): Promise<string | undefined> {
  const first = await peek(input, 6);
  const compression = detectCompression(first.head);
  const plain = decompress(first.stream, compression, 'build context');
  const second = await peek(plain, 512);
  if (second.head.length === 0) return undefined;
  if (!isTarHeader(second.head)) {
    if (compression === 'none') {
      // A Dockerfile is text: NUL bytes or invalid UTF-8 up front mean a broken upload, not a Dockerfile.
      if (second.head.includes(0) || !isUtf8Prefix(second.head)) {
        second.stream.destroy();
        throw new TbuildError('TB_TAR_FORMAT', 'the build context is neither a tar archive (plain, gzip, bzip2, xz or zstd) nor a Dockerfile');
      }
      return readAllText(second.stream);
    }
    second.stream.destroy();
    throw new TbuildError('TB_TAR_FORMAT', `the ${compression} context stream does not hold a tar archive`);
  }
  await untar(second.stream, { root: dir, dir: '/', owner: 'none', specials: 'refuse', signal });
  return undefined;
}

/** Valid UTF-8, allowing a multi-byte character cut off at the end of the sample. */
function isUtf8Prefix(bytes: Buffer): boolean {
  for (let cut = 0; cut < 4 && cut < bytes.length; cut++) {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, bytes.length - cut));
      return true;
    } catch {
      // try without a trailing partial character
    }
  }
  return bytes.length === 0;
}
