import { lstat, mkdir, readdir, readlink, rmdir } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { basename, join, posix } from 'node:path';
import { randomBytes } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import type { WorkerDeps } from '../worker/types.js';
import type { Snapshotter } from '../cache/types.js';
import { TbuildError } from '../errors.js';
import { isMountPoint, mountAll } from '../util/mount.js';
import { resolveInRoot } from '../util/confine.js';
import { applyTar } from '../cache/layer/index.js';

type Parts = Pick<WorkerDeps, 'snapshots' | 'layers'>;

/** `docker diff`: walk the container layer (overlay upperdir) against the image layers below it. */
export async function containerChanges(snapshots: Snapshotter, key: string): Promise<Array<{ Path: string; Kind: 0 | 1 | 2 }>> {
  const upper = await snapshots.layerDir(key);
  const lowers = await Promise.all((await snapshots.chain(key)).slice(1).map((k) => snapshots.layerDir(k)));
  const out: Array<{ Path: string; Kind: 0 | 1 | 2 }> = [];
  const inLower = async (rel: string) => {
    for (const l of lowers) if (await lstat(join(l, rel)).catch(() => undefined)) return true;
    return false;
  };
  const walk = async (rel: string, parentAdded: boolean): Promise<void> => {
    const names = (await readdir(join(upper, rel)).catch(() => [] as string[])).sort();
    for (const n of names) {
      const r = posix.join(rel, n);
      const st = await lstat(join(upper, r));
      if (st.isCharacterDevice() && st.rdev === 0) {
        out.push({ Path: '/' + r, Kind: 2 });
        continue;
      }
      const added = parentAdded || !(await inLower(r));
      out.push({ Path: '/' + r, Kind: added ? 1 : 0 });
      if (st.isDirectory()) await walk(r, added);
    }
  };
  await walk('', false);
  return out;
}

/**
 * Run `fn` on the container's merged filesystem: the shim's mount while it runs, otherwise a
 * temporary mount of the container snapshot, released when `fn`'s work is done.
 */
async function withMerged<T>(
  parts: Parts,
  key: string,
  rootfs: string,
  fn: (dir: string) => Promise<{ value: T; done: Promise<unknown> }>,
): Promise<T> {
  if (isMountPoint(rootfs)) return (await fn(rootfs)).value;
  const dir = `${rootfs}-tmp-${randomBytes(4).toString('hex')}`;
  await mkdir(dir, { recursive: true });
  let release: (() => Promise<void>) | undefined;
  const cleanup = async () => {
    if (release) await release().catch(() => {});
    await rmdir(dir).catch(() => {});
  };
  try {
    release = await mountAll(await parts.snapshots.mounts(key), dir);
    const r = await fn(dir);
    void r.done.finally(cleanup);
    return r.value;
  } catch (err) {
    await cleanup();
    throw err;
  }
}

function streamDone(s: Readable): Promise<void> {
  return new Promise((resolve) => {
    s.once('close', resolve);
    s.once('end', resolve);
    s.once('error', () => resolve());
  });
}

/** `docker export`: a tar of the merged filesystem. */
export async function containerExport(parts: Parts, key: string, rootfs: string): Promise<Readable> {
  return withMerged(parts, key, rootfs, async (dir) => {
    const out = parts.layers.tarFromDir(dir);
    return { value: out, done: streamDone(out) };
  });
}

/** Pack `hostPath` as `name` (recursively) into `pack`. */
async function packTree(pack: tar.Pack, hostPath: string, name: string): Promise<void> {
  const st = await lstat(hostPath);
  const base = { name, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime };
  if (st.isDirectory()) {
    pack.entry({ ...base, type: 'directory' });
    for (const n of (await readdir(hostPath)).sort()) await packTree(pack, join(hostPath, n), `${name}/${n}`);
  } else if (st.isSymbolicLink()) {
    pack.entry({ ...base, type: 'symlink', linkname: await readlink(hostPath) });
  } else if (st.isFile()) {
    const entry = pack.entry({ ...base, type: 'file', size: st.size });
    await pipeline(createReadStream(hostPath), entry);
  }
  // devices, fifos and sockets are not copied out, as `docker cp` skips them
}

/** `docker cp` out: a tar whose top entry is the base name of `path`, plus its stat. */
export async function getArchive(
  parts: Parts,
  key: string,
  rootfs: string,
  path: string,
  /** The container as the user named it, for Docker's "not found" message. */
  containerName: string,
): Promise<{ tar: Readable; stat: { name: string; size: number; mode: number; mtime: string; linkTarget: string }; done: Promise<unknown> }> {
  return withMerged(parts, key, rootfs, async (dir) => {
    const host = await resolveInRoot(dir, path, { followFinal: !path.endsWith('/') ? false : true });
    const st = await lstat(host).catch(() => undefined);
    if (!st) throw new TbuildError('TB_CONTAINER_NOT_FOUND', `Could not find the file ${path} in container ${containerName}`);
    const name = basename(posix.normalize('/' + path)) || '/';
    const linkTarget = st.isSymbolicLink() ? await readlink(host) : '';
    const target = st.isSymbolicLink() && path.endsWith('/') ? await resolveInRoot(dir, path) : host;
    const pack = tar.pack();
    const out = new PassThrough();
    // The producer's errors go to the consumer's stream, never unhandled; a consumer that leaves
    // early (HEAD, client gone) destroys the producer, so the walk stops and the mount is released.
    pack.on('error', (err: Error) => out.destroy(err));
    out.once('close', () => pack.destroy());
    pack.pipe(out);
    const done = packTree(pack, target, name === '/' ? '.' : name).then(
      () => pack.finalize(),
      (err: unknown) => {
        pack.destroy();
        out.destroy(err as Error);
      },
    );
    const all = Promise.all([done, streamDone(out)]);
    return {
      // `done`: the walk has stopped touching the filesystem (the caller may thaw the container).
      value: { tar: out, stat: { name, size: st.size, mode: st.mode, mtime: st.mtime.toISOString(), linkTarget }, done: all },
      done: all,
    };
  });
}

/** `docker cp` in: extract `tarStream` into directory `path` of the container (confined). */
export async function putArchive(parts: Parts, key: string, rootfs: string, path: string, tarStream: Readable, containerName: string, opts: { noOverwriteDirNonDir?: boolean } = {}): Promise<void> {
  await withMerged(parts, key, rootfs, async (dir) => {
    const host = await resolveInRoot(dir, path);
    const st = await lstat(host).catch(() => undefined);
    if (!st) throw new TbuildError('TB_CONTAINER_NOT_FOUND', `Could not find the file ${path} in container ${containerName}`);
    if (!st.isDirectory()) throw new TbuildError('TB_INVALID_ARGUMENT', `extraction point is not a directory`);
    // A plain archive, not a layer: `.wh.x` is a file, and absolute links resolve against the container root.
    await applyTar(tarStream, host, { whiteouts: false, root: dir, ...(opts.noOverwriteDirNonDir ? { noOverwriteDirNonDir: true } : {}) });
    return { value: undefined, done: Promise.resolve() };
  });
}
