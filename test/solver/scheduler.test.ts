import { describe, test, expect, afterEach } from 'vitest';
import { tempDir } from '../support/tmp.js';
import { FakeExecutor } from '../support/fake-executor.js';
import { fakeOps, chain, scratch, run } from '../support/fake-ops.js';
import { GraphBuilder } from '../../src/solver/graph/vertex.js';
import { solve, SolverShared } from '../../src/solver/scheduler.js';
import { openCacheIndex } from '../../src/cache/cache-index.js';
import { isTbuildError } from '../../src/errors.js';
import type { ProgressEvent } from '../../src/build/types.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup() {
  const t = await tempDir();
  cleanups.push(t.cleanup);
  const index = await openCacheIndex(t.path);
  const exec = new FakeExecutor();
  return { index, exec, shared: new SolverShared(8) };
}

const overlaps = (a: { started: number; ended?: number }, b: { started: number; ended?: number }): boolean =>
  a.started < (b.ended ?? Infinity) && b.started < (a.ended ?? Infinity);

describe('scheduler', () => {
  test('independent vertices run at the same time; dependents wait for inputs', async () => {
    const { index, exec, shared } = await setup();
    const g = new GraphBuilder();
    const base = scratch(g);
    const a = chain(g, base, ['sleep', '150', 'echo', 'a']);
    const b = chain(g, base, ['sleep', '150', 'echo', 'b']);
    const join = g.add(run(['echo', 'join']), [a, b], { name: 'join', stages: ['s'] });
    const def = g.definition('Dockerfile', '');
    await solve(def, [join], fakeOps(exec), index, shared);
    const [ra, rb, rj] = ['a', 'b', 'join'].map((w) => exec.runs.find((r) => r.args.includes(w))!);
    expect(overlaps(ra!, rb!)).toBe(true);
    expect(exec.peak).toBe(2);
    expect(rj!.started).toBeGreaterThanOrEqual(Math.max(ra!.ended!, rb!.ended!));
  });

  test('--max-parallelism 1 serializes', async () => {
    const { index, exec, shared } = await setup();
    const g = new GraphBuilder();
    const base = scratch(g);
    const tips = [1, 2, 3].map((i) => chain(g, base, ['sleep', '40', 'echo', `p${i}`]));
    await solve(g.definition('Dockerfile', ''), tips, fakeOps(exec), index, shared, { maxParallelism: 1 });
    expect(exec.runs).toHaveLength(3);
    expect(exec.peak).toBe(1);
  });

  test('an identical vertex runs once in a build, and once across two concurrent builds', async () => {
    const { index, exec, shared } = await setup();
    const g = new GraphBuilder();
    const base = scratch(g);
    const x1 = chain(g, base, ['sleep', '100', 'echo', 'same']);
    const x2 = chain(g, base, ['sleep', '100', 'echo', 'same']);
    expect(x1).toBe(x2);
    const def = g.definition('Dockerfile', '');
    const logs: string[][] = [[], []];
    const progress = (i: number) => (e: ProgressEvent) => {
      if (e.type === 'log') logs[i]!.push(Buffer.from(e.data).toString());
    };
    await Promise.all([
      solve(def, [x1], fakeOps(exec), index, shared, { onProgress: progress(0) }),
      solve(def, [x2], fakeOps(exec), index, shared, { onProgress: progress(1) }),
    ]);
    expect(exec.runs.filter((r) => r.args.includes('same'))).toHaveLength(1);
    // both builds see the output of the one run
    expect(logs[0]!.join('')).toContain('same');
    expect(logs[1]!.join('')).toContain('same');
  });

  test('the first failure aborts running siblings; the abort reaches the executor; the error propagates', async () => {
    const { index, exec, shared } = await setup();
    const g = new GraphBuilder();
    const base = scratch(g);
    const slow = chain(g, base, ['sleep', '5000', 'echo', 'slow']);
    const bad = chain(g, base, ['sleep', '50', 'exit', '3']);
    const after = chain(g, bad, ['echo', 'never']);
    const events: ProgressEvent[] = [];
    const t0 = Date.now();
    const err = await solve(g.definition('Dockerfile', ''), [slow, after], fakeOps(exec), index, shared, {
      onProgress: (e) => events.push(e),
    }).catch((e: unknown) => e);
    expect(isTbuildError(err, 'TB_EXEC_NONZERO')).toBe(true);
    expect((err as Error).message).toContain('exit code: 3');
    expect((err as { vertex?: string }).vertex).toBe(bad);
    expect(Date.now() - t0).toBeLessThan(3000);
    const slowRun = exec.runs.find((r) => r.args.includes('slow'))!;
    expect(slowRun.aborted).toBe(true);
    expect(slowRun.ended).toBeDefined();
    expect(exec.runs.some((r) => r.args.includes('never'))).toBe(false);
    expect(events.some((e) => e.type === 'vertex' && e.vertex.id === bad && e.vertex.error)).toBe(true);
  });

  test('one of two builds sharing a step is cancelled: the step keeps running for the other', async () => {
    const { index, exec, shared } = await setup();
    const g = new GraphBuilder();
    const tip = chain(g, scratch(g), ['sleep', '200', 'echo', 'shared-step']);
    const def = g.definition('Dockerfile', '');
    const ac = new AbortController();
    const a = solve(def, [tip], fakeOps(exec), index, shared, { signal: ac.signal }).catch((e: unknown) => e);
    const b = solve(def, [tip], fakeOps(exec), index, shared);
    setTimeout(() => ac.abort(), 50);
    expect(isTbuildError(await a, 'TB_BUILD_CANCELLED')).toBe(true);
    const rb = await b;
    expect(rb.results.get(tip)?.layers).toHaveLength(1);
    expect(exec.runs).toHaveLength(1);
    expect(exec.runs[0]!.aborted).toBe(false);
  });

  test('an outer abort (Ctrl-C) cancels the build', async () => {
    const { index, exec, shared } = await setup();
    const g = new GraphBuilder();
    const tip = chain(g, scratch(g), ['sleep', '5000']);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const err = await solve(g.definition('Dockerfile', ''), [tip], fakeOps(exec), index, shared, { signal: ac.signal }).catch((e: unknown) => e);
    expect(isTbuildError(err, 'TB_BUILD_CANCELLED')).toBe(true);
    expect(exec.runs[0]!.aborted).toBe(true);
  });

  test('a rebuild takes every step from the cache; --no-cache and --no-cache-filter run them again', async () => {
    const { index, exec, shared } = await setup();
    const g = new GraphBuilder();
    const tip = chain(g, scratch(g), ['echo', '1'], ['echo', '2']);
    const def = g.definition('Dockerfile', '');
    const first = await solve(def, [tip], fakeOps(exec), index, shared);
    expect(first.steps.filter((s) => s.cached && s.name !== 'scratch')).toHaveLength(0);
    const second = await solve(def, [tip], fakeOps(exec), index, shared);
    expect(exec.runs).toHaveLength(2);
    expect(second.steps.every((s) => s.cached)).toBe(true);
    expect(second.results.get(tip)).toEqual(first.results.get(tip));
    const third = await solve(def, [tip], fakeOps(exec), index, shared, { noCache: true });
    expect(third.steps.some((s) => s.cached)).toBe(false);
    expect(exec.runs).toHaveLength(4);
    await solve(def, [tip], fakeOps(exec), index, shared, { noCacheFilter: new Set(['s']) });
    expect(exec.runs).toHaveLength(6);
  });

  test('steps built on a step that ran again (--no-cache-filter) run again too', async () => {
    const { index, exec, shared } = await setup();
    const g = new GraphBuilder();
    const base = scratch(g);
    const first = g.add(run(['echo', 'in-stage-a']), [base], { name: 'a', stages: ['a'] });
    const tip = g.add(run(['echo', 'in-stage-b']), [first], { name: 'b', stages: ['b'] });
    const def = g.definition('Dockerfile', '');
    await solve(def, [tip], fakeOps(exec), index, shared);
    const again = await solve(def, [tip], fakeOps(exec), index, shared, { noCacheFilter: new Set(['a']) });
    expect(again.steps.filter((s) => !s.cached).map((s) => s.name).sort()).toEqual(['a', 'b']);
    // and the results of that run are what the next plain rebuild takes from the cache
    const third = await solve(def, [tip], fakeOps(exec), index, shared);
    expect(third.steps.every((s) => s.cached)).toBe(true);
    expect(third.results.get(tip)).toEqual(again.results.get(tip));
  });

  test('a changed content key re-runs that step and every later one', async () => {
    const { index, exec, shared } = await setup();
    const g = new GraphBuilder();
    const mid = chain(g, scratch(g), ['echo', 'early']);
    const tip = chain(g, mid, ['echo', 'copy'], ['echo', 'late']);
    const def = g.definition('Dockerfile', '');
    let content = 'v1';
    const ops = () => fakeOps(exec, (v) => (v.op.type === 'exec' && v.op.args.includes('copy') ? content : undefined));
    await solve(def, [tip], ops(), index, shared);
    content = 'v2';
    const again = await solve(def, [tip], ops(), index, shared);
    const ran = again.steps.filter((s) => !s.cached && s.name !== 'scratch').map((s) => s.name);
    expect(ran.sort()).toEqual(['echo copy', 'echo late']);
  });
});
