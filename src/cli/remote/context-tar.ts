import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { IgnoreMatcher, loadDockerignore } from '../../parser/dockerignore.js';
import { TbuildError } from '../../errors.js';

export interface ContextTarOptions {
  /** Absolute Dockerfile path, for `<Dockerfile>.dockerignore`. */
  dockerfilePath?: string;
  /** Context-relative paths sent even when ignored (the Dockerfile and .dockerignore, as Docker does). */
  keep?: string[];
  /** Extra files appended at the top of the tar (a Dockerfile from outside the context). */
  extra?: Array<{ name: string; data: Buffer }>;
}

/**
 * The build context as the Docker CLI sends it to POST /build: an uncompressed tar of the directory
 * in sorted order, less what `.dockerignore` excludes, streamed while it is read.
 */
export async function contextTar(dir: string, opts: ContextTarOptions = {}): Promise<Readable> {
  const st = await lstat(dir).catch(() => undefined);
  if (!st?.isDirectory()) throw new TbuildError('TB_CONTEXT_INVALID', `unable to prepare context: path "${dir}" not found or not a directory`);
  const matcher = new IgnoreMatcher(await loadDockerignore(dir, opts.dockerfilePath));
  const keep = new Set(opts.keep ?? []);
  const pack = tar.pack();
  const add = (header: Parameters<tar.Pack["entry"]>[0], data?: Buffer): Promise<void> =>
    new Promise((resolve, reject) => {
      const cb = (err?: Error | null): void => (err ? reject(err) : resolve());
      if (data) pack.entry(header, data, cb);
      else pack.entry(header, cb);
    });

  const walk = async (rel: string): Promise<void> => {
    const names = (await readdir(join(dir, rel))).sort();
    for (const name of names) {
      const relPath = rel ? `${rel}/${name}` : name;
      const abs = join(dir, relPath);
      const s = await lstat(abs);
      const ignored = matcher.matches(relPath) && !keep.has(relPath);
      if (s.isDirectory()) {
        if (ignored && matcher.canSkipDir(relPath)) continue;
        if (!ignored) await add({ name: `${relPath}/`, type: 'directory', mode: s.mode & 0o7777, mtime: s.mtime, uid: s.uid, gid: s.gid });
        await walk(relPath);
        continue;
      }
      if (ignored) continue;
      const common = { name: relPath, mode: s.mode & 0o7777, mtime: s.mtime, uid: s.uid, gid: s.gid };
      if (s.isSymbolicLink()) {
        await add({ ...common, type: 'symlink', linkname: await readlink(abs) });
      } else if (s.isFile()) {
        await new Promise<void>((resolve, reject) => {
          const entry = pack.entry({ ...common, type: 'file', size: s.size }, (err) => (err ? reject(err) : resolve()));
          const src = createReadStream(abs);
          src.on('error', (err) => {
            entry.destroy(err);
            reject(new TbuildError('TB_CONTEXT_INVALID', `unable to read ${relPath}: ${err.message}`, { cause: err }));
          });
          src.pipe(entry);
        });
      }
      // Sockets, fifos and devices are skipped, as the Docker CLI's walker does.
    }
  };

  (async () => {
    for (const f of opts.extra ?? []) await add({ name: f.name, type: 'file', mode: 0o644, size: f.data.length, mtime: new Date(0) }, f.data);
    await walk('');
    pack.finalize();
  })().catch((err: Error) => pack.destroy(err));
  // tar-stream's Pack is a streamx Readable; node's pipe and async iteration both accept it.
  return pack as unknown as Readable;
}
