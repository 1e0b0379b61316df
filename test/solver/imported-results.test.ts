import { afterEach, describe, expect, test } from 'vitest';
import { tempDir } from '../support/tmp.js';
import { FakeExecutor } from '../support/fake-executor.js';
import { fakeOps, chain, scratch, run } from '../support/fake-ops.js';
import { GraphBuilder } from '../../src/solver/graph/vertex.js';
import { solve, SolverShared } from '../../src/solver/scheduler.js';
import { openCacheIndex } from '../../src/cache/cache-index.js';
import type { ResultSource, VertexResult } from '../../src/solver/result.js';
import type { Digest } from '../../src/util/digest.js';
import type { CacheIndex } from '../../src/cache/types.js';

/**
 * Results from an imported cache (`--cache-from`): the scheduler keys dependents by the link the
 * exporting machine recorded, fetches layers only when a step runs on them or for the build's
 * result, runs again a step known only by identity when its files are needed, and remembers what
 * it learned so the next build hits locally.
 */

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function root(): Promise<{ index: CacheIndex; exec: FakeExecutor; shared: SolverShared }> {
  const t = await tempDir();
  cleanups.push(t.cleanup);
  return { index: await openCacheIndex(t.path), exec: new FakeExecutor(), shared: new SolverShared(4) };
}

/** What one machine exports: every key with its result (the scheduler's `keys` and `results`). */
function exported(keys: Map<Digest, Digest>, results: Map<Digest, VertexResult>, identityOnly: Set<Digest> = new Set()) {
  const byKey = new Map<Digest, { result: VertexResult; identityOnly: boolean }>();
  for (const [v, key] of keys) byKey.set(key, { result: results.get(v)!, identityOnly: identityOnly.has(v) });
  return byKey;
}

/** A ResultSource over another machine's results; counts what is fetched. */
function source(entries: ReturnType<typeof exported>, fetched: Digest[]): ResultSource {
  return {
    async lookup(key) {
      const e = entries.get(key);
      if (!e) return undefined;
      const { result } = e;
      const diffIds = result.layers.map((l) => l.diffId);
      return {
        layers: [],
        link: result.link!,
        pending: e.identityOnly
          ? { diffIds }
          : {
              diffIds,
              materialize: async () => {
                fetched.push(key);
                return { snapshot: `imported-${fetched.length}`, layers: result.layers.map((l, i) => ({ ...l, snapshot: `imported-${fetched.length}-${i}` })) };
              },
            },
      };
    },
  };
}

describe('imported results', () => {
  test('a chain of hits fetches only the result; dependents keep the exporting machine\'s keys', async () => {
    const g = new GraphBuilder();
    const tip = chain(g, scratch(g), ['echo', 'a'], ['echo', 'b'], ['echo', 'c']);
    const def = g.definition('Dockerfile', '');
    const a = await root();
    const first = await solve(def, [tip], fakeOps(a.exec), a.index, a.shared);
    expect(a.exec.runs).toHaveLength(3);

    const b = await root();
    const fetched: Digest[] = [];
    const second = await solve(def, [tip], fakeOps(b.exec), b.index, b.shared, { imported: source(exported(first.keys, first.results), fetched) });
    expect(b.exec.runs).toHaveLength(0);
    expect(fetched).toEqual([first.keys.get(tip)]);
    expect(second.keys).toEqual(first.keys);
    expect(second.results.get(tip)!.link).toBe(first.results.get(tip)!.link);

    // remembered: without the import, the same machine hits every step locally
    const third = await solve(def, [tip], fakeOps(b.exec), b.index, b.shared);
    expect(b.exec.runs).toHaveLength(0);
    expect(third.steps.filter((s) => s.name !== 'scratch').every((s) => s.cached)).toBe(true);
  });

  test('a step that misses fetches its input first; a step known by identity only runs again when needed', async () => {
    const g = new GraphBuilder();
    const base = scratch(g);
    const builder = g.add(run(['make']), [base], { name: 'make', stages: ['builder'] });
    const final = g.add(run(['install']), [builder], { name: 'install', stages: ['final'] });
    const def = g.definition('Dockerfile', '');
    const a = await root();
    const first = await solve(def, [final], fakeOps(a.exec), a.index, a.shared);

    // identity only for the builder (mode=min), nothing for the final step: it must run on make's files
    const entries = exported(first.keys, first.results, new Set([builder]));
    entries.delete(first.keys.get(final)!);
    const b = await root();
    const fetched: Digest[] = [];
    const second = await solve(def, [final], fakeOps(b.exec), b.index, b.shared, { imported: source(entries, fetched) });
    expect(b.exec.runs.map((r) => r.args.join(' '))).toEqual(['make', 'install']);
    expect(fetched).toEqual([]);
    // the re-run keeps the identity its dependents were keyed by
    expect(second.results.get(builder)!.link).toBe(first.results.get(builder)!.link);
    expect(second.keys.get(final)).toBe(first.keys.get(final));
  });

  test('what stayed imported is remembered by identity; a later import with layers is fetched, not re-run; prune -a forgets it', async () => {
    const g = new GraphBuilder();
    const base = scratch(g);
    const builder = g.add(run(['make']), [base], { name: 'make', stages: ['builder'] });
    const other = g.add(run(['prepare']), [base], { name: 'prepare', stages: ['final'] });
    // like COPY --from=builder: make's files are read, its layers are not in the result's chain
    const final = g.add(run(['install']), [other, builder], { name: 'install', stages: ['final'] });
    const def = g.definition('Dockerfile', '');
    const a = await root();
    const first = await solve(def, [final], fakeOps(a.exec), a.index, a.shared);
    const b = await root();
    const fetched: Digest[] = [];
    // first import: all hits, only the final result fetched; make is remembered by identity
    await solve(def, [final], fakeOps(b.exec), b.index, b.shared, { imported: source(exported(first.keys, first.results), fetched) });
    const remembered = await b.index.get(first.keys.get(builder)!);
    expect(remembered?.meta).toMatchObject({ identity: true, link: first.results.get(builder)!.link });
    // the install step's own record is gone (pruned elsewhere, say): with the import again, make's
    // layers come from the cache instead of make running
    await b.index.delete(first.keys.get(final)!);
    const entries = exported(first.keys, first.results);
    entries.delete(first.keys.get(final)!);
    await solve(def, [final], fakeOps(b.exec), b.index, b.shared, { imported: source(entries, fetched) });
    expect(b.exec.runs.map((r) => r.args.join(' '))).toEqual(['install']);
    // prepare's layers were the bottom of the fetched result, so they are local already
    expect(fetched).toEqual([first.keys.get(final), first.keys.get(builder)]);
    // builder prune -a: identity records hold no files and go too
    const { pruneBuildCache } = await import('../../src/cache/prune.js');
    await b.index.set({ key: first.keys.get(builder)!, meta: { identity: true, link: first.results.get(builder)!.link, diffIds: [] }, created: new Date().toISOString() });
    const snapshots = { walk: async function* () {}, usage: async () => ({ size: 0, inodes: 0 }), remove: async () => {} } as never;
    await pruneBuildCache(snapshots, b.index, { all: true, keep: [] });
    expect(await b.index.get(first.keys.get(builder)!)).toBeUndefined();
  });

  test('an imported result that cannot be fetched runs the step instead, with a warning', async () => {
    const g = new GraphBuilder();
    const tip = chain(g, scratch(g), ['echo', 'x']);
    const def = g.definition('Dockerfile', '');
    const a = await root();
    const first = await solve(def, [tip], fakeOps(a.exec), a.index, a.shared);
    const b = await root();
    const broken: ResultSource = {
      async lookup(key) {
        if (key !== first.keys.get(tip)) return undefined;
        return { layers: [], link: first.results.get(tip)!.link!, pending: { diffIds: [], materialize: async () => Promise.reject(new Error('blob sha256:abc: content hashes to sha256:def')) } };
      },
    };
    const warnings: string[] = [];
    const solved = await solve(def, [tip], fakeOps(b.exec), b.index, b.shared, {
      imported: broken,
      onProgress: (e) => e.type === 'warning' && warnings.push(e.message),
    });
    expect(b.exec.runs.map((r) => r.args.join(' '))).toEqual(['echo x']);
    expect(warnings).toEqual([expect.stringMatching(/imported cache for echo x is unusable \(.*content hashes to.*\): running the step/)]);
    expect(solved.results.get(tip)!.link).toBe(first.results.get(tip)!.link);
  });
});
