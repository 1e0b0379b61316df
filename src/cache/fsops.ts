import { PythonHelper } from '../util/python-helper.js';
import { TbuildError } from '../errors.js';

/**
 * The file operations Node has no binding for: listing/reading/setting extended attributes and
 * making device nodes. They run in a python3 helper (Debian's `python3`, whose `os` module has
 * listxattr/getxattr/setxattr/mknod), one request per batch or per tree, never one process per
 * file. The helper is started on first use, kept while requests keep coming (a layer commit costs
 * a pipe round trip, not a process start), and exits after a short idle time or when we do.
 * The `attr` package (setfattr/getfattr) is not needed.
 */

// Long enough to outlive a typical build step between a prepare (which warms it) and the
// describe after the commit; an idle helper costs nothing but a sleeping process.
const IDLE_MS = 10_000;

// One JSON request per line in, one JSON answer per line out. Paths travel as JSON strings,
// values as base64. Every path an `apply` touches must have no symlink in its directory part
// (checked with realpath) and lie under `root`: the batch runs after the tar entries were written,
// and a later entry may have swapped a directory for a symlink.
const SCRIPT = String.raw`
import os, sys, json, base64
def scan(req):
    skip = req.get('skipPrefix') or []
    res = []
    for root in req['roots']:
        out = {}
        def visit(path, rel):
            try:
                names = os.listxattr(path, follow_symlinks=False)
            except OSError:
                names = []
            xs = {}
            for n in names:
                if any(n.startswith(s) for s in skip):
                    continue
                try:
                    xs[n] = base64.b64encode(os.getxattr(path, n, follow_symlinks=False)).decode()
                except OSError:
                    pass
            if xs:
                out[rel] = xs
        visit(root, '')
        # an explicit stack, not recursion: a context may nest thousands of directories deep
        todo = [(root, '')]
        while todo:
            path, rel = todo.pop()
            with os.scandir(path) as it:
                ents = list(it)
            for e in ents:
                r = rel + '/' + e.name if rel else e.name
                visit(e.path, r)
                if e.is_dir(follow_symlinks=False):
                    todo.append((e.path, r))
        res.append(out)
    return res
def apply(req):
    root = req['root'].rstrip('/') or '/'
    def inside(p):
        d = os.path.dirname(p)
        return (root == '/' or p.startswith(root + '/')) and os.path.realpath(d) == d
    errs = []
    for o in req['ops']:
        p = o['p']
        try:
            if not inside(p):
                errs.append([p, 'path left the root'])
                continue
            t = o['t']
            if t == 'mknod':
                if os.path.lexists(p):
                    if not o.get('replace') or (os.path.isdir(p) and not os.path.islink(p)):
                        continue
                    os.unlink(p)
                os.mknod(p, o['mode'], os.makedev(o['major'], o['minor']))
                if 'uid' in o:
                    os.chown(p, o['uid'], o['gid'], follow_symlinks=False)
                    os.chmod(p, o['mode'] & 0o7777)
                if 'mtime' in o:
                    os.utime(p, (o['mtime'], o['mtime']), follow_symlinks=False)
            elif t == 'setx':
                try:
                    os.setxattr(p, o['n'], base64.b64decode(o['v']), follow_symlinks=False)
                except OSError:
                    if not o.get('soft'):
                        raise
            elif t == 'rmx':
                try:
                    os.removexattr(p, o['n'], follow_symlinks=False)
                except OSError:
                    pass
        except OSError as e:
            errs.append([p, str(e)])
    return {'errors': errs}
def handle(req):
    return scan(req) if req['op'] == 'scan' else apply(req)
`;

const helper = new PythonHelper('xattr helper', SCRIPT, IDLE_MS);

/**
 * Start the helper in the background: a caller that will soon describe a layer (a snapshot was
 * just prepared) saves the interpreter's start-up on the step's critical path. It exits again
 * after the idle time if nothing comes.
 */
export function warmFsHelper(): void {
  try {
    helper.warm();
  } catch {
    // a failure to start is reported by the request that needs the helper
  }
}

export type XattrMap = Map<string, Map<string, Buffer>>;

/** Extended attributes of every entry under `root` (root itself is ''), symlinks not followed. */
export async function scanXattrs(root: string, skipPrefix: string[] = []): Promise<XattrMap> {
  return (await scanXattrsMany([root], skipPrefix))[0]!;
}

/** `scanXattrs` for several trees in one helper process. */
export async function scanXattrsMany(roots: string[], skipPrefix: string[] = []): Promise<XattrMap[]> {
  if (!roots.length) return [];
  const raw = (await helper.request({ op: 'scan', roots, skipPrefix })) as Record<string, Record<string, string>>[];
  return raw.map((tree) => {
    const out: XattrMap = new Map();
    for (const [rel, xs] of Object.entries(tree)) {
      out.set(rel, new Map(Object.entries(xs).map(([n, v]) => [n, Buffer.from(v, 'base64')])));
    }
    return out;
  });
}

export type FsOp =
  | {
      t: 'mknod';
      p: string;
      /** File type bits | permissions. */
      mode: number;
      major: number;
      minor: number;
      replace?: boolean;
      uid?: number;
      gid?: number;
      mtime?: number;
    }
  /** `soft`: a failure is ignored (user.* xattrs cannot be set on symlinks). */
  | { t: 'setx'; p: string; n: string; v: string; soft?: boolean }
  | { t: 'rmx'; p: string; n: string };

/** S_IFCHR / S_IFBLK for `mknod` modes. */
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;

/** Run a batch of operations on paths under `root`. Throws on the first failed one (all are attempted). */
export async function applyFsOps(root: string, ops: FsOp[]): Promise<void> {
  if (!ops.length) return;
  const res = (await helper.request({ op: 'apply', root, ops })) as { errors: [string, string][] };
  if (res.errors.length) {
    const [p, msg] = res.errors[0]!;
    const escaped = res.errors.some(([, m]) => m === 'path left the root');
    throw new TbuildError(escaped ? 'TB_TAR_HOSTILE' : 'TB_INTERNAL', `${msg}: ${p}${res.errors.length > 1 ? ` (and ${res.errors.length - 1} more)` : ''}`, {
      details: { errors: res.errors.slice(0, 20) },
    });
  }
}

export function xattrOp(p: string, name: string, value: Buffer | string): FsOp {
  return { t: 'setx', p, n: name, v: Buffer.from(value).toString('base64') };
}
