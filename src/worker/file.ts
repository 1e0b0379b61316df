import type { CopyAction, FileOp, MkdirAction } from '../solver/graph/types.js';
import type { VertexResult } from '../solver/result.js';
import type { ExecIO } from '../solver/scheduler.js';
import type { OpEnv } from './types.js';
import { commitWork, openView } from './snapshot.js';
import { traced } from '../solver/trace.js';
import { copyFiles, mkdirInRoot } from './file/index.js';
import { namedTree } from './named.js';

async function copy(env: OpEnv, a: CopyAction, inputs: VertexResult[], io: ExecIO): Promise<VertexResult> {
  const fromInput = a.from.type === 'input' ? inputs[a.from.index]! : undefined;
  const tree = a.from.type === 'named' ? namedTree(env, a.from.name) : env.context;
  const view = fromInput ? await traced('view', () => openView(env, fromInput)) : undefined;
  const chownView = a.chownFrom !== undefined ? await openView(env, inputs[a.chownFrom]!).catch(async (err: unknown) => {
    await view?.release();
    throw err;
  }) : undefined;
  try {
    return await commitWork(env, inputs[0]!, async (destRoot) => {
      await copyFiles({
        srcRoot: view ? view.dir : tree.dir,
        ignore: view ? undefined : tree.ignore,
        sources: a.sources,
        inline: a.inline,
        destRoot,
        dest: a.dest,
        workdir: a.workdir,
        chown: a.chown,
        ...(chownView ? { chownRoot: chownView.dir } : {}),
        chmod: a.chmod,
        parents: a.parents,
        excludes: a.excludes,
        add: a.add,
        unpack: a.unpack,
        signal: io.signal,
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
