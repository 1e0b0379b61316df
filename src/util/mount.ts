import { readFileSync } from 'node:fs';
import { TbuildError } from '../errors.js';
import type { Mount } from '../cache/types.js';
import { PythonHelper } from './python-helper.js';

/** The kernel copies mount options into one page; longer ones fail with a confusing EINVAL. */
export const MAX_MOUNT_OPTIONS = 4095;

/**
 * mount(2) and umount2(2) through python3's ctypes in a long-lived helper, not `/bin/mount`: a
 * process start per mount cost ~20 ms a RUN step (mount and unmount of its rootfs), the system
 * calls ~0.5 ms. Each request is one mount description's calls in order (the mount, then the
 * remount a bind's flags need, then its propagation), run from `cwd` when the description has one
 * (overlay's relative lower dirs). A few helpers share the work, so an unmount that waits for
 * the kernel to write back a big layer does not hold up the mounts of steps beside it.
 */
const SCRIPT = String.raw`
import os, sys, json, ctypes, errno
libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
def b(v):
    return None if v is None else os.fsencode(v)
def handle(req):
    cwd = req.get('cwd')
    if cwd:
        os.chdir(cwd)
    try:
        done = 0
        for c in req['calls']:
            r = libc.mount(b(c[1]), b(c[2]), b(c[3]), c[4], b(c[5])) if c[0] == 'mount' else libc.umount2(b(c[1]), c[2])
            if r != 0:
                e = ctypes.get_errno()
                return {'done': done, 'errno': errno.errorcode.get(e, str(e)), 'message': os.strerror(e)}
            done += 1
        return {'done': done}
    finally:
        if cwd:
            os.chdir('/')
`;

const helpers = Array.from({ length: 3 }, (_, i) => new PythonHelper(`mount helper ${i + 1}`, SCRIPT, 10_000));

/** Start a helper now (a build about to mount its first step), so the first mount does not wait for python to start. */
export function warmMounts(): void {
  try {
    helpers[0]!.warm();
  } catch {
    // a failure to start is reported by the mount that needs it
  }
}

type Call = ['mount', string | null, string, string | null, number, string | null] | ['umount', string, number];

async function syscalls(calls: Call[], cwd?: string): Promise<{ done: number; errno?: string; message?: string }> {
  // A running helper answers a mount in well under a millisecond; starting one costs python's
  // start-up (~50 ms). So: a running one with at most one request ahead, else one to start (an
  // unmount may be waiting for the kernel to write back a big layer), else the least busy.
  const running = helpers.filter((h) => h.running).sort((a, b) => a.pending - b.pending);
  const helper = running[0] && running[0].pending <= 1 ? running[0] : (helpers.find((h) => !h.running) ?? running[0]!);
  return (await helper.request({ calls, ...(cwd ? { cwd } : {}) })) as { done: number; errno?: string; message?: string };
}

const MS = { RDONLY: 1, NOSUID: 2, NODEV: 4, NOEXEC: 8, SYNCHRONOUS: 16, REMOUNT: 32, DIRSYNC: 128, NOATIME: 1024, NODIRATIME: 2048, BIND: 4096, REC: 16384, UNBINDABLE: 1 << 17, PRIVATE: 1 << 18, SLAVE: 1 << 19, SHARED: 1 << 20, RELATIME: 1 << 21, STRICTATIME: 1 << 24 };
const MNT_DETACH = 2;
const FLAGS: Record<string, number> = {
  ro: MS.RDONLY, nosuid: MS.NOSUID, nodev: MS.NODEV, noexec: MS.NOEXEC, sync: MS.SYNCHRONOUS, dirsync: MS.DIRSYNC,
  noatime: MS.NOATIME, nodiratime: MS.NODIRATIME, relatime: MS.RELATIME, strictatime: MS.STRICTATIME,
};
/** Options that only say "the default" (they clear a flag nobody set). */
const DEFAULTS = new Set(['rw', 'suid', 'dev', 'exec', 'async', 'atime', 'diratime', 'defaults']);
const PROPAGATION: Record<string, number> = {
  private: MS.PRIVATE, rprivate: MS.PRIVATE | MS.REC, shared: MS.SHARED, rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE, rslave: MS.SLAVE | MS.REC, unbindable: MS.UNBINDABLE, runbindable: MS.UNBINDABLE | MS.REC,
};

/** The system calls that perform one Mount description on `target`, as util-linux's mount makes them. */
export function mountCalls(m: Mount, target: string): Call[] {
  let flags = 0;
  let propagation = 0;
  let bind = m.type === 'bind';
  let recursive = false;
  const data: string[] = [];
  for (const o of m.options) {
    if (o === 'bind' || o === 'rbind') {
      bind = true;
      recursive ||= o === 'rbind';
    } else if (FLAGS[o] !== undefined) flags |= FLAGS[o];
    else if (PROPAGATION[o] !== undefined) propagation = PROPAGATION[o];
    else if (!DEFAULTS.has(o)) data.push(o);
  }
  const options = data.join(',');
  if (options.length > MAX_MOUNT_OPTIONS) {
    throw new TbuildError('TB_MOUNT', `mount options are ${options.length} bytes; the kernel takes at most ${MAX_MOUNT_OPTIONS}`);
  }
  const calls: Call[] = [];
  if (bind) {
    calls.push(['mount', m.source, target, null, MS.BIND | (recursive ? MS.REC : 0), null]);
    // a bind mount takes its flags only from a remount
    if (flags) calls.push(['mount', null, target, null, MS.REMOUNT | MS.BIND | flags, null]);
  } else {
    calls.push(['mount', m.source, target, m.type, flags, options || null]);
  }
  if (propagation) calls.push(['mount', null, target, null, propagation, null]);
  return calls;
}

async function mountOne(m: Mount, target: string): Promise<void> {
  const calls = mountCalls(m, target);
  const r = await syscalls(calls, m.cwd);
  if (r.errno === undefined) return;
  // what went through before the failing call is undone
  if (r.done > 0) await unmount(target).catch(() => {});
  throw new TbuildError('TB_MOUNT', `mount ${m.type} on ${target} failed: ${r.errno} (${r.message})`, { details: { mount: m, target, errno: r.errno } });
}

/**
 * Unmount `target`; if it is busy, detach it lazily so the caller is never stuck holding it.
 */
export async function unmount(target: string): Promise<void> {
  const r = await syscalls([['umount', target, 0]]);
  if (r.errno === undefined) return;
  const lazy = await syscalls([['umount', target, MNT_DETACH]]);
  if (lazy.errno === undefined) return;
  throw new TbuildError('TB_MOUNT', `unmount ${target} failed: ${r.errno} (${r.message}); lazy: ${lazy.errno} (${lazy.message})`);
}

/**
 * Perform `mounts` in order on `target` (stacked, as containerd's mount.All does). Resolves to a
 * function that undoes them in reverse order. If one fails, those already made are undone first.
 */
export async function mountAll(mounts: Mount[], target: string): Promise<() => Promise<void>> {
  const done: string[] = [];
  try {
    for (const m of mounts) {
      await mountOne(m, target);
      done.push(target);
    }
  } catch (err) {
    for (const t of done.reverse()) await unmount(t).catch(() => {});
    throw err;
  }
  let undone = false;
  return async () => {
    if (undone) return;
    undone = true;
    let first: unknown;
    for (const t of [...done].reverse()) {
      try {
        await unmount(t);
      } catch (err) {
        first ??= err;
      }
    }
    if (first) throw first;
  };
}

/** Mount, run `fn` on the mounted directory, and always unmount, even when `fn` throws. */
export async function withMounts<T>(mounts: Mount[], target: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const release = await mountAll(mounts, target);
  try {
    return await fn(target);
  } finally {
    await release();
  }
}

/** Mount points of this process's namespace, from /proc/self/mountinfo (octal escapes decoded). */
export function mountPoints(): string[] {
  let info: string;
  try {
    info = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of info.split('\n')) {
    const field = line.split(' ')[4];
    if (field) out.push(field.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))));
  }
  return out;
}

export function isMountPoint(dir: string): boolean {
  return mountPoints().includes(dir);
}

/** `dir` and every mount below it, deepest first (the order they must be detached in). */
export function mountPointsUnder(dir: string): string[] {
  return mountPoints()
    .filter((p) => p === dir || p.startsWith(dir + '/'))
    .sort((a, b) => b.length - a.length);
}
