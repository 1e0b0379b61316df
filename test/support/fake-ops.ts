import { TbuildError } from '../../src/errors.js';
import { sha256 } from '../../src/util/digest.js';
import type { Digest } from '../../src/util/digest.js';
import type { ExecOp, Vertex } from '../../src/solver/graph/types.js';
import { GraphBuilder } from '../../src/solver/graph/vertex.js';
import type { VertexResult } from '../../src/solver/result.js';
import type { VertexImpl } from '../../src/solver/types.js';
import type { FakeExecutor } from './fake-executor.js';

let runCounter = 0;

/** Solver ops over a FakeExecutor: RUN "adds a layer" named after its command; nothing touches disk. */
export function fakeOps(executor: FakeExecutor, content: (v: Vertex) => string | undefined = () => undefined): VertexImpl & { execs: Digest[] } {
  const execs: Digest[] = [];
  return {
    execs,
    contentKey: async (v) => content(v),
    cacheable: (v) => v.op.type !== 'source',
    valid: async () => true,
    async exec(v, inputs, io): Promise<VertexResult> {
      execs.push(v.digest);
      if (v.op.type !== 'exec') return { layers: inputs[0]?.layers ?? [] };
      const status = await executor.run(
        `fake-${execs.length}`,
        { rootfs: '/nonexistent', process: { args: v.op.args, env: [], cwd: '/', user: '' }, mounts: [], network: 'none' },
        { stdout: { write: (d: string) => io.log('stdout', Buffer.from(d)) } as unknown as NodeJS.WritableStream as never },
        io.signal,
      );
      if (io.signal.aborted) throw new TbuildError('TB_BUILD_CANCELLED', 'cancelled');
      if (status.exitCode !== 0) throw new TbuildError('TB_EXEC_NONZERO', `process "${v.op.args.join(' ')}" did not complete successfully: exit code: ${status.exitCode}`);
      const parent = inputs[0]?.layers ?? [];
      // a fresh name per run, as the real snapshotter gives: a re-run is a different result
      const snapshot = `fake-${v.digest.slice(7, 19)}-${++runCounter}`;
      return { snapshot, layers: [...parent, { diffId: sha256(v.op.args.join(' ')), size: 1, snapshot }] };
    },
  };
}

export function run(args: string[]): ExecOp {
  return { type: 'exec', args, env: [], cwd: '/', user: '', network: 'none', mounts: [], inline: [] };
}

/** A small graph helper: `chain(g, base, ['sleep','50'], …)` stacks RUN vertices. */
export function chain(g: GraphBuilder, base: Digest, ...cmds: string[][]): Digest {
  let cur = base;
  for (const c of cmds) cur = g.add(run(c), [cur], { name: c.join(' '), stages: ['s'] });
  return cur;
}

export function scratch(g: GraphBuilder): Digest {
  return g.add({ type: 'source', source: 'scratch' }, [], { name: 'scratch', stages: [] });
}
