import { posix } from 'node:path';
import type { Digest } from '../../util/digest.js';
import type { CopyInstruction, WorkdirInstruction } from '../../parser/types.js';
import type { CopyAction, FileOp } from '../../solver/graph/types.js';
import type { ConvertContext } from './context.js';
import { workdirOf, type StageState } from './state.js';
import { isHttpSource, parseChecksum } from '../../worker/file/http-source.js';
import { parseGitSource } from '../../worker/file/git-source.js';
import { TbuildError } from '../../errors.js';

function heredocName(word: string): string | undefined {
  const m = /^<<-?(["']?)([^"'\s]+)\1$/.exec(word);
  return m?.[2];
}

/**
 * Variables in an unquoted heredoc body: `$NAME`, `${NAME}` and `${NAME:-x}` forms; everything
 * else (quotes, newlines) stays as written, and `\$` is a literal dollar.
 */
function expandHeredoc(state: StageState, body: string): string {
  return body.replace(/\\\$|\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*/g, (m) => (m === '\\$' ? '$' : state.scope.expand(m)));
}

export async function convertCopy(ctx: ConvertContext, state: StageState, ins: CopyInstruction): Promise<void> {
  const scope = state.scope;
  const inline: CopyAction['inline'] = [];
  const sources: string[] = [];
  for (const word of ins.sources) {
    // the parser gives heredoc sources by name (`EOF`); `<<EOF` is accepted too
    const name = heredocName(word) ?? word;
    const doc = ins.heredocs.find((h) => h.name === name);
    if (doc) {
      inline.push({ name: doc.name, content: doc.expand ? expandHeredoc(state, doc.content) : doc.content });
    } else {
      sources.push(scope.expand(word));
    }
  }
  const inputs: Digest[] = [state.vertex];
  let from: CopyAction['from'] = { type: 'context' };
  if (ins.from !== undefined && ctx.isLocalContext(ins.from)) {
    from = { type: 'named', name: ins.from };
  } else if (ins.from !== undefined) {
    inputs.push(await ctx.fromSource(ins.from, state.index, ins.range));
    from = { type: 'input', index: 1 };
  }
  const checksum = ins.checksum !== undefined ? scope.expand(ins.checksum) : undefined;
  if (checksum !== undefined) {
    parseChecksum(checksum);
    if (!sources.length || sources.some((s) => !isHttpSource(s) || parseGitSource(s)) || inline.length) {
      throw new TbuildError('TB_INVALID_ARGUMENT', "checksum can't be specified for non-HTTP(S) sources", { range: ins.range });
    }
  }
  if (ins.keepGitDir !== undefined && !sources.some((s) => parseGitSource(s))) {
    throw new TbuildError('TB_INVALID_ARGUMENT', 'ADD --keep-git-dir applies to git sources only, and this ADD has none', { range: ins.range });
  }
  const dest = scope.expand(ins.dest);
  const action: CopyAction = {
    kind: 'copy',
    sources,
    dest,
    workdir: workdirOf(state),
    from,
    chown: ins.chown !== undefined ? scope.expand(ins.chown) : undefined,
    chmod: ins.chmod !== undefined ? scope.expand(ins.chmod) : undefined,
    parents: ins.parents,
    excludes: ins.excludes.map((e) => scope.expand(e)),
    link: ins.link,
    add: ins.kind === 'ADD',
    unpack: ins.unpack,
    ...(checksum !== undefined ? { checksum } : {}),
    ...(ins.keepGitDir ? { keepGitDir: true } : {}),
    inline,
  };
  const parent = state.vertex;
  const meta = { name: ctx.stepName(state, ins.original), range: ins.range, stages: [state.displayName, String(state.index)] };
  // --link (without --chmod, as BuildKit): copy onto scratch, then lay that layer on the stage
  if (ins.link && action.chmod === undefined) {
    inputs[0] = ctx.graph.add({ type: 'source', source: 'scratch' }, [], { name: '[internal] scratch', stages: [] });
    if (action.chown !== undefined && /[^\d:]/.test(action.chown)) {
      action.chownFrom = inputs.length;
      inputs.push(parent);
    }
    const copied = ctx.graph.add({ type: 'file', action }, inputs, { ...meta, name: `${meta.name} (on scratch)` });
    state.vertex = ctx.graph.add({ type: 'merge' }, [parent, copied], meta);
  } else {
    const op: FileOp = { type: 'file', action };
    state.vertex = ctx.graph.add(op, inputs, meta);
  }
  // BuildKit's text: flags that change the result, the path sources, then heredocs, then dest
  const shown = [
    ...(ins.parents ? ['--parents'] : []),
    ...(action.chown !== undefined ? [`--chown=${action.chown}`] : []),
    ...(action.chmod !== undefined ? [`--chmod=${action.chmod}`] : []),
    ...sources,
    ...inline.map((f) => `<<${f.name}`),
    dest,
  ];
  state.history.push({ created_by: `${ins.kind} ${shown.join(' ')} # buildkit`, layer: { vertex: state.vertex, parent } });
}

export function convertWorkdir(ctx: ConvertContext, state: StageState, ins: WorkdirInstruction): void {
  const raw = state.scope.expand(ins.path);
  const wd = posix.resolve(workdirOf(state), raw);
  state.image.config.WorkingDir = wd;
  if (wd === '/') {
    state.history.push({ created_by: `WORKDIR ${wd}`, empty_layer: true });
    return;
  }
  const parent = state.vertex;
  const op: FileOp = { type: 'file', action: { kind: 'mkdir', path: wd, mode: 0o755, user: state.image.config.User ?? '' } };
  state.vertex = ctx.graph.add(op, [parent], {
    name: ctx.stepName(state, ins.original),
    range: ins.range,
    stages: [state.displayName, String(state.index)],
  });
  state.history.push({ created_by: `WORKDIR ${wd}`, layer: { vertex: state.vertex, parent } });
}
