import type { Vertex } from '../solver/graph/types.js';
import type { VertexResult } from '../solver/result.js';
import type { ExecIO, VertexImpl } from '../solver/types.js';
import type { OpEnv } from './types.js';
import { namedTree } from './named.js';
import { debugState, execRun } from './exec.js';
import { execFile } from './file.js';
import { execSource } from './source.js';
import { execMerge } from './merge.js';
import { checksumSources } from '../session/checksum.js';
import { isRemoteSource } from './file/index.js';
import { downloadOnce, isHttpSource } from './file/http-source.js';
import { parseGitSource, resolveGitOnce } from './file/git-source.js';
import { traced } from '../util/trace.js';

export type { OpEnv } from './types.js';

/** The solver's per-op behaviour on a real engine: the one place that reaches into exec and cache. */
export function engineOps(env: OpEnv): VertexImpl {
  /** What the op reads beyond its inputs: context files (COPY, bind mounts), downloads (ADD URL). */
  const opContentKey = async (vertex: Vertex, _inputs: VertexResult[], signal: AbortSignal): Promise<string | undefined> => {
    const op = vertex.op;
    if (op.type === 'file' && op.action.kind === 'copy' && (op.action.from.type === 'context' || op.action.from.type === 'named') && op.action.sources.length) {
      const { excludes, parents } = op.action;
      const tree = op.action.from.type === 'named' ? namedTree(env, op.action.from.name) : env.context;
      // ADD of a URL is keyed by what it downloads (or by its --checksum, without downloading);
      // other remote sources are refused when the step runs, with their own message
      const action = op.action;
      const gits = action.add ? action.sources.filter((s) => parseGitSource(s)) : [];
      const urls = action.add ? action.sources.filter((s) => isHttpSource(s) && !gits.includes(s)) : [];
      const remote = await Promise.all([
        ...urls.map(async (u) => `${u}=${action.checksum ? action.checksum : (await downloadOnce(env, u, env.tmp, signal, undefined, env.parts.root)).digest}`),
        // a git source is keyed by the commit its ref names now
        ...gits.map(async (g) => `${g}=${await resolveGitOnce(env, parseGitSource(g)!)}${action.keepGitDir ? '+.git' : ''}`),
      ]);
      const sources = op.action.sources.filter((s) => !isRemoteSource(s));
      const local = sources.length ? await traced('checksum', () => checksumSources(tree, sources, { excludes, parents, signal })) : undefined;
      if (!remote.length) return local;
      return JSON.stringify({ local: local ?? null, remote });
    }
    if (op.type === 'exec') {
      const binds = op.mounts.filter((m) => m.type === 'bind' && m.input === undefined).map((m) => (m as { source: string }).source);
      if (binds.length) return checksumSources(env.context, binds, { signal });
    }
    return undefined;
  };
  return {
    async contentKey(vertex: Vertex, inputs: VertexResult[], signal: AbortSignal): Promise<string | undefined> {
      const own = await opContentKey(vertex, inputs, signal);
      // layers made under SOURCE_DATE_EPOCH differ (clamped times): they are other results; a RUN
      // step's /dev/shm size and ulimits are part of what it is, as in BuildKit's ExecOp
      const epoch = env.sourceDateEpoch !== undefined && ['exec', 'file', 'merge'].includes(vertex.op.type) ? env.sourceDateEpoch : undefined;
      const limits = vertex.op.type === 'exec' ? env.runLimits : undefined;
      if (epoch === undefined && limits === undefined) return own;
      return JSON.stringify({ own: own ?? null, ...(epoch !== undefined ? { epoch } : {}), ...(limits ? { limits } : {}) });
    },
    cacheable: (vertex) => vertex.op.type !== 'source',
    async valid(result: VertexResult): Promise<boolean> {
      if (!result.snapshot) return true;
      return env.lease ? env.lease.add(result.snapshot) : env.parts.snapshots.exists(result.snapshot);
    },
    missed: () => env.warmNetwork?.(),
    hitState: (vertex, inputs) => (vertex.op.type === 'exec' ? debugState(env, vertex.op, inputs) : undefined),
    exec(vertex: Vertex, inputs: VertexResult[], io: ExecIO): Promise<VertexResult> {
      const op = vertex.op;
      switch (op.type) {
        case 'source':
          return execSource(env, op);
        case 'exec':
          return execRun(env, op, inputs, io);
        case 'file':
          return execFile(env, op, inputs, io);
        case 'merge':
          return execMerge(env, inputs[0]!, inputs[1]!);
      }
    },
  };
}
