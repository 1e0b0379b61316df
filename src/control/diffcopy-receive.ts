import { createHash } from 'node:crypto';
import { constants as C } from 'node:fs';
import { lchown, lstat, lutimes, mkdir, open, readFile, readdir, rename, rm, symlink, chmod, link, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { createClient } from '@connectrpc/connect';
import { TbuildError } from '../errors.js';
import { Channel } from './channel.js';
import { FileSync } from './gen/github.com/moby/buildkit/session/filesync/filesync_pb.js';
import { type Packet, PacketSchema, Packet_PacketType as T } from './gen/github.com/tonistiigi/fsutil/types/wire_pb.js';
import type { Stat } from './gen/github.com/tonistiigi/fsutil/types/stat_pb.js';
import { kindOfGoMode, permOfGoMode } from './go-mode.js';
import { MULTI_VALUE_HEADER } from './h2c.js';
import type { ClientSession } from './types.js';

/**
 * The receiving side of fsutil's DiffCopy: a directory of the client (the build context, the
 * Dockerfile's directory) is mirrored into `dest`. The client lists every entry (STAT), tbuild asks
 * for the contents of the files it lacks (REQ) and the client streams them (DATA). `dest` persists
 * between builds with a record of the stats it was written from, so a rebuild asks only for files
 * whose stat changed: one changed file of 5,000 costs one file's bytes.
 */

export interface SyncRequest {
  /** The client's name for the directory (`context`, `dockerfile`). */
  dirName: string;
  dest: string;
  followPaths?: string[];
  includePatterns?: string[];
  excludePatterns?: string[];
  signal?: AbortSignal;
  /** Bytes received so far, as they arrive. */
  onBytes?: (bytes: number) => void;
}

export interface SyncResult {
  entries: number;
  /** Files whose contents were transferred. */
  transferred: number;
  bytes: number;
}

const STATE_FILE = '.tbuild-sync.json';
/** Every sync of one directory is serialized: two builds sharing a session share its state. */
const locks = new Map<string, Promise<unknown>>();

export async function syncFromClient(session: ClientSession, req: SyncRequest): Promise<SyncResult> {
  if (!session.methods.has('/moby.filesync.v1.FileSync/DiffCopy')) {
    throw new TbuildError('TB_BUILDKIT_SESSION', `the client's session offers no file sync, so local directory "${req.dirName}" cannot be read`);
  }
  const prev = locks.get(req.dest) ?? Promise.resolve();
  const run = prev.catch(() => {}).then(() => receive(session, req));
  locks.set(req.dest, run);
  try {
    return await run;
  } finally {
    if (locks.get(req.dest) === run) locks.delete(req.dest);
  }
}

function statKey(s: Stat): string {
  return `${s.mode}:${s.size}:${s.modTime}:${s.uid}:${s.gid}:${s.linkname}`;
}

/** A path as the client sent it, refused unless it is relative, clean and stays inside. */
function checkedPath(p: string): string {
  const parts = p.split('/');
  if (!p || p.startsWith('/') || parts.some((c) => c === '' || c === '.' || c === '..') || p.includes('\0')) {
    throw new TbuildError('TB_BUILDKIT_SYNC', `the client sent an invalid path ${JSON.stringify(p)} in its file listing`);
  }
  return p;
}

function headersFor(req: SyncRequest): Record<string, string> {
  const multi: Record<string, string[]> = { 'dir-name': [req.dirName] };
  const lists: [string, string[] | undefined][] = [
    ['include-patterns', req.includePatterns],
    ['exclude-patterns', req.excludePatterns],
    ['followpaths', req.followPaths],
  ];
  for (const [key, values] of lists) {
    if (!values?.length) continue;
    // Non-ASCII values travel query-escaped with a `-encoded` marker, as fsutil's sender expects.
    if (values.some((v) => /[^\x20-\x7e]/.test(v))) {
      multi[key] = values.map((v) => encodeURIComponent(v).replace(/%20/g, '+'));
      multi[`${key}-encoded`] = ['1'];
    } else multi[key] = values;
  }
  return { [MULTI_VALUE_HEADER]: JSON.stringify(multi) };
}

async function receive(session: ClientSession, req: SyncRequest): Promise<SyncResult> {
  await mkdir(req.dest, { recursive: true, mode: 0o700 });
  const statePath = `${req.dest}${STATE_FILE}`;
  const previous = await readFile(statePath, 'utf8')
    .then((t) => new Map(Object.entries(JSON.parse(t) as Record<string, string>)))
    .catch(() => new Map<string, string>());
  // The state is invalid while a sync runs: a crash midway leaves files whose stat it does not describe.
  await rm(statePath, { force: true });

  const client = createClient(FileSync, session.transport);
  const out = new Channel<Packet>();
  const abort = new AbortController();
  const onAbort = () => abort.abort(req.signal?.reason);
  req.signal?.addEventListener('abort', onAbort);
  session.signal.addEventListener('abort', onAbort);
  const stream = client.diffCopy(out, { headers: headersFor(req), signal: abort.signal });

  const listing: Stat[] = [];
  const kinds = new Map<string, string>();
  const wanted = new Map<number, { path: string; stat: Stat; tmp: string; fh?: Awaited<ReturnType<typeof open>> }>();
  let listed = false;
  let bytes = 0;
  let transferred = 0;
  const dirs: { path: string; stat: Stat }[] = [];

  const fail = (message: string): never => {
    out.push(create(PacketSchema, { type: T.PACKET_ERR, data: new TextEncoder().encode(message) }));
    throw new TbuildError('TB_BUILDKIT_SYNC', message);
  };

  const place = async (stat: Stat, index: number) => {
    const rel = checkedPath(stat.path);
    const slash = rel.lastIndexOf('/');
    const parent = slash < 0 ? '' : rel.slice(0, slash);
    // Entries land only under directories this listing created: never through a symlink.
    if (parent && kinds.get(parent) !== 'dir') fail(`entry ${rel} is not inside a listed directory`);
    const kind = kindOfGoMode(stat.mode);
    kinds.set(rel, kind);
    const target = join(req.dest, rel);
    const unchanged = previous.get(rel) === statKey(stat);
    // The state describes exactly what the last complete sync wrote into this private directory:
    // an entry it vouches for needs no look at the disk (5,000 unchanged files cost no syscalls).
    if (unchanged && !stat.linkname && (kind === 'dir' || kind === 'file')) return;
    const existing = await lstat(target).catch(() => undefined);
    if (kind === 'dir') {
      if (existing && !existing.isDirectory()) await rm(target, { recursive: true, force: true });
      if (!existing?.isDirectory()) await mkdir(target, { mode: 0o700 });
      dirs.push({ path: target, stat });
      return;
    }
    if (existing?.isDirectory()) await rm(target, { recursive: true, force: true });
    else if (existing && !(unchanged && kind === 'file' && existing.isFile() && !stat.linkname)) await rm(target, { force: true });
    if (kind === 'symlink') {
      // A symlink is data: its target is kept as written and never followed while receiving.
      await symlink(stat.linkname, target);
      await lchown(target, stat.uid, stat.gid);
      await lutimes(target, nsToDate(stat.modTime), nsToDate(stat.modTime));
    } else if (kind === 'file' && stat.linkname) {
      const to = checkedPath(stat.linkname);
      if (kinds.get(to) !== 'file') fail(`hard link ${rel} points at ${to}, which is not an earlier file of the listing`);
      await link(join(req.dest, to), target);
    } else if (kind === 'file') {
      if (unchanged && existing?.isFile() && BigInt(existing.size) === stat.size) return;
      wanted.set(index, { path: target, stat, tmp: `${target}.tbuild-part` });
    } else if (kind === 'pipe' || kind === 'socket') {
      // As with a tar context: sockets and pipes carry no content a build could read.
      kinds.set(rel, 'skipped');
    } else fail(`device ${rel} cannot be part of a build context`);
  };

  try {
    for await (const p of stream) {
      if (p.type === T.PACKET_ERR) throw new TbuildError('TB_BUILDKIT_SYNC', `the client failed to send "${req.dirName}": ${new TextDecoder().decode(p.data)}`);
      if (!listed) {
        if (p.type !== T.PACKET_STAT) fail(`expected a file listing, got packet type ${p.type}`);
        if (!p.stat) {
          listed = true;
          for (const id of wanted.keys()) out.push(create(PacketSchema, { type: T.PACKET_REQ, ID: id }));
          if (!wanted.size) out.push(create(PacketSchema, { type: T.PACKET_FIN }));
          continue;
        }
        listing.push(p.stat);
        await place(p.stat, listing.length - 1);
        continue;
      }
      if (p.type === T.PACKET_FIN) break;
      if (p.type !== T.PACKET_DATA) fail(`unexpected packet type ${p.type} during file transfer`);
      const w = wanted.get(p.ID);
      if (!w) fail(`the client sent data for a file that was not asked for (${p.ID})`);
      const file = w!;
      file.fh ??= await open(file.tmp, C.O_WRONLY | C.O_CREAT | C.O_TRUNC | C.O_NOFOLLOW, 0o600);
      if (p.data.length) {
        await file.fh.write(p.data);
        bytes += p.data.length;
        req.onBytes?.(bytes);
        continue;
      }
      await file.fh.close();
      file.fh = undefined;
      await rename(file.tmp, file.path);
      await finishEntry(file.path, file.stat);
      wanted.delete(p.ID);
      transferred++;
      if (!wanted.size) out.push(create(PacketSchema, { type: T.PACKET_FIN }));
    }
    if (!listed || wanted.size) throw new TbuildError('TB_BUILDKIT_SYNC', `the client ended the transfer of "${req.dirName}" before it was complete`);
    await removeUnlisted(req.dest, '', kinds);
    // Directory times last: writing into a directory moves its mtime.
    for (const d of dirs.reverse()) await finishEntry(d.path, d.stat);
    const state: Record<string, string> = {};
    for (const s of listing) if (kinds.get(s.path) !== 'skipped') state[s.path] = statKey(s);
    await writeFile(statePath, JSON.stringify(state));
    return { entries: listing.length, transferred, bytes };
  } catch (err) {
    abort.abort(err);
    for (const w of wanted.values()) {
      await w.fh?.close().catch(() => {});
      await rm(w.tmp, { force: true });
    }
    if (err instanceof TbuildError) throw err;
    if (session.signal.aborted) throw new TbuildError('TB_BUILDKIT_SESSION', `the client's session closed while "${req.dirName}" was being transferred`, { cause: err });
    throw err;
  } finally {
    out.close();
    req.signal?.removeEventListener('abort', onAbort);
    session.signal.removeEventListener('abort', onAbort);
  }
}

function nsToDate(ns: bigint): Date {
  return new Date(Number(ns / 1_000_000n));
}

async function finishEntry(path: string, stat: Stat): Promise<void> {
  await lchown(path, stat.uid, stat.gid);
  await chmod(path, permOfGoMode(stat.mode));
  const t = nsToDate(stat.modTime);
  await utimes(path, t, t);
}

/** Remove what an earlier sync left and this listing no longer has. */
async function removeUnlisted(root: string, rel: string, kinds: Map<string, string>): Promise<void> {
  const entries = await readdir(join(root, rel), { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const path = rel ? `${rel}/${e.name}` : e.name;
    const kind = kinds.get(path);
    if (kind === undefined || kind === 'skipped') await rm(join(root, path), { recursive: true, force: true });
    else if (kind === 'dir' && e.isDirectory()) await removeUnlisted(root, path, kinds);
  }
}

/** Where the synced copy of one client directory lives between builds. */
export function syncDir(root: string, sharedKey: string, dirName: string): string {
  const key = createHash('sha256').update(`${sharedKey}\0${dirName}`).digest('hex').slice(0, 32);
  return join(root, 'buildkit', 'sync', key);
}
