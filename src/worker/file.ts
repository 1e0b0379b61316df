import type { CopyAction, FileOp, MkdirAction } from '../solver/graph/types.js';
import type { VertexResult } from '../solver/result.js';
import type { ExecIO } from '../solver/types.js';
import type { OpEnv } from './types.js';
import { commitWork, openView } from './snapshot.js';
import { traced } from '../util/trace.js';
import { copyFiles, mkdirInRoot } from './file/index.js';
import { namedTree } from './named.js';
import { downloadOnce, isHttpSource, parseChecksum } from './file/http-source.js';
import { checkoutGitOnce, parseGitSource, resolveGitOnce } from './file/git-source.js';
import { TbuildError } from '../errors.js';
import { resolveInRoot } from '../util/confine.js';
import { stat } from 'node:fs/promises';
import { posix } from 'node:path';

async function isDir(root: string, dest: string, workdir: string): Promise<boolean> {
  const abs = dest.startsWith('/') ? dest : posix.join('/', workdir, dest);
  return stat(await resolveInRoot(root, abs)).then((s) => s.isDirectory(), () => false);
}

async function copy(env: OpEnv, a: CopyAction, inputs: VertexResult[], io: ExecIO): Promise<VertexResult> {
  const fromInput = a.from.type === 'input' ? inputs[a.from.index]! : undefined;
  const tree = a.from.type === 'named' ? namedTree(env, a.from.name) : env.context;
  const view = fromInput ? await traced('view', () => openView(env, fromInput)) : undefined;
  const chownView = a.chownFrom !== undefined ? await openView(env, inputs[a.chownFrom]!).catch(async (err: unknown) => {
    await view?.release();
    throw err;
  }) : undefined;
  // ADD of URLs: each downloaded (once per build) into a directory of its own, then copied from there
  const gits = a.add && !view ? a.sources.filter((s) => parseGitSource(s)) : [];
  const urls = a.add && !view ? a.sources.filter((s) => isHttpSource(s) && !gits.includes(s)) : [];
  const downloads = await Promise.all(urls.map((u) => downloadOnce(env, u, env.tmp, io.signal, a.checksum ? parseChecksum(a.checksum) : undefined, env.parts.root)));
  // a git source: its commit checked out (shallow), its tree (or #ref:subdir) copied like a directory
  const checkouts = await Promise.all(
    gits.map(async (g) => {
      const src = parseGitSource(g)!;
      return checkoutGitOnce(env, src, await resolveGitOnce(env, src), env.tmp, a.keepGitDir === true, env.parts.root);
    }),
  );
  const localSources = a.sources.filter((s) => !urls.includes(s) && !gits.includes(s));
  try {
    return await commitWork(env, inputs[0]!, async (destRoot) => {
      const common = {
        destRoot,
        dest: a.dest,
        workdir: a.workdir,
        chown: a.chown,
        ...(chownView ? { chownRoot: chownView.dir } : {}),
        chmod: a.chmod,
        parents: a.parents,
        excludes: a.excludes,
        add: a.add,
        signal: io.signal,
      };
      if (downloads.length) {
        const total = a.sources.length + a.inline.length;
        if (total > 1 && !/(\/|^\.|\/\.)$/.test(a.dest) && !(await isDir(destRoot, a.dest, a.workdir))) {
          throw new TbuildError('TB_COPY_DEST_NOT_DIR', 'When using COPY with more than one source file, the destination must be a directory and end with a /', { details: { dest: a.dest } });
        }
        // a downloaded archive is a file, never unpacked (as Docker and BuildKit do)
        for (const d of downloads) await copyFiles({ ...common, srcRoot: d.dir, sources: [d.name], inline: [], unpack: false, ...(total > 1 ? { dest: a.dest.endsWith('/') ? a.dest : `${a.dest}/` } : {}) });
      }
      for (const dir of checkouts) {
        await copyFiles({ ...common, srcRoot: dir, sources: ['.'], inline: [], unpack: false, dest: a.dest.endsWith('/') ? a.dest : `${a.dest}/` });
      }
      if ((downloads.length || checkouts.length) && !localSources.length && !a.inline.length) return;
      await copyFiles({
        ...common,
        srcRoot: view ? view.dir : tree.dir,
        ignore: view ? undefined : tree.ignore,
        sources: localSources,
        inline: a.inline,
        unpack: a.unpack,
        ...((downloads.length || checkouts.length) && a.sources.length + a.inline.length > 1 ? { dest: a.dest.endsWith('/') ? a.dest : `${a.dest}/` } : {}),
      });
    });
  } finally {
    await chownView?.release();
    await view?.release();
  }
}

async function mkdirOp(env: OpEnv, a: MkdirAction, inputs: VertexResult[]): Promise<VertexResult> {
  return commitWork(env, inputs[0]!, async (destRoot) => {
    await mkdirInRoot({ destRoot, path: a.path, mode: a.mode, user: a.user || undefined });
  });
}

/** COPY/ADD/WORKDIR: file changes written through an overlay on input 0, committed as a layer. */
export function execFile(env: OpEnv, op: FileOp, inputs: VertexResult[], io: ExecIO): Promise<VertexResult> {
  return op.action.kind === 'copy' ? copy(env, op.action, inputs, io) : mkdirOp(env, op.action, inputs);
}
