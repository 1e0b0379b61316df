import PQueue from 'p-queue';
import type { Digest } from '../util/digest.js';
import { cacheKey } from './cachekey.js';
import { digestOf } from '../util/digest.js';
import { TbuildError, isTbuildError } from '../errors.js';
import type { CacheIndex } from '../cache/types.js';
import { MissReasons } from './miss-reasons.js';
import { currentSink, inStep } from '../util/trace.js';
import type { Definition, Vertex } from './graph/types.js';
import type { ExecIO, SolveOptions, Solved, StepTiming, VertexImpl } from './types.js';
import { identityRecord, recordToResult, resultToRecord, type VertexResult } from './result.js';

interface SharedJob {
  promise: Promise<VertexResult>;
  controller: AbortController;
  waiters: number;
  /** Every waiting build sees the step's output, not only the one that started it. */
  listeners: Set<ExecIO['log']>;
}

/**
 * State shared by every build on one engine: identical work (same cache key) runs once even when
 * two builds ask for it at the same time.
 */
export class SolverShared {
  readonly inflight = new Map<Digest, SharedJob>();
  readonly queue: PQueue;

  constructor(concurrency = 4) {
    this.queue = new PQueue({ concurrency });
  }
}

const cancelled = (): TbuildError => new TbuildError('TB_BUILD_CANCELLED', 'build cancelled');

/**
 * Runs every vertex the roots need as soon as its inputs are ready. The first failure aborts all
 * running siblings (their executors get the signal) and the solve rejects with that failure.
 */
export async function solve(
  def: Definition,
  roots: Digest[],
  impl: VertexImpl,
  cacheIndex: CacheIndex,
  shared: SolverShared,
  opts: SolveOptions = {},
): Promise<Solved> {
  const controller = new AbortController();
  const onOuterAbort = (): void => controller.abort(opts.signal?.reason ?? cancelled());
  if (opts.signal?.aborted) throw cancelled();
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const signal = controller.signal;
  const localQueue = opts.maxParallelism ? new PQueue({ concurrency: opts.maxParallelism }) : undefined;
  const emit = opts.onProgress ?? (() => {});
  const keys = new Map<Digest, Promise<{ key: Digest; result: VertexResult }>>();
  const results = new Map<Digest, VertexResult>();
  const cacheKeys = new Map<Digest, Digest>();
  /** Vertices whose results go in the cache index (sources are never recorded). */
  const recorded = new Set<Digest>();
  const materializing = new Map<Digest, Promise<VertexResult>>();
  /** Steps known only by identity (imported without layers): how to run each when it is needed after all. */
  const rebuilders = new Map<Digest, () => Promise<VertexResult>>();
  const steps: StepTiming[] = [];
  let firstError: unknown;
  const joined = new Set<SharedJob>();

  const visit = (d: Digest): Promise<{ key: Digest; result: VertexResult }> => {
    let p = keys.get(d);
    if (!p) {
      p = run(d).catch((err: unknown) => {
        // the vertex that failed first owns the error: dependents rethrow the same object
        if (err instanceof Error && (err as { vertex?: Digest }).vertex === undefined) {
          Object.defineProperty(err, 'vertex', { value: d, enumerable: false, configurable: true });
        }
        throw err;
      });
      // a sibling's failure is reported once, through firstError
      p.catch(() => {});
      keys.set(d, p);
    }
    return p;
  };

  const run = async (d: Digest): Promise<{ key: Digest; result: VertexResult }> => {
    const vertex = def.vertices.get(d);
    if (!vertex) throw new TbuildError('TB_INTERNAL', `vertex ${d} missing from the definition`);
    const meta = def.meta.get(d);
    const name = meta?.name ?? vertex.op.type;
    const inputs = await Promise.all(vertex.inputs.map(visit));
    if (signal.aborted) throw cancelled();
    let inputResults = inputs.map((i) => i.result);
    const status = { id: d, name, inputs: vertex.inputs };
    const started = Date.now();
    let extra: string | undefined;
    try {
      extra = await inStep(currentSink(), d, () => impl.contentKey(vertex, inputResults, signal));
    } catch (err) {
      // e.g. a COPY source that does not exist: the step fails before it could run
      emit({ type: 'vertex', vertex: { ...status, started, completed: Date.now(), error: (err as Error).message } });
      throw err;
    }
    const key = cacheKey(d, inputs.map((i) => i.key), extra);
    cacheKeys.set(d, key);
    const cacheable = impl.cacheable(vertex);
    if (cacheable) recorded.add(d);
    const skipCache = opts.noCache || (meta?.stages ?? []).some((s) => opts.noCacheFilter?.has(s.toLowerCase()));
    if (cacheable && !skipCache) {
      const rec = await cacheIndex.get(key);
      const local = rec && recordToResult(rec);
      let hit = local && (await impl.valid(local)) ? local : undefined;
      // a local record of identity only gives way to an imported one that has the layers
      if (opts.imported && (!hit || (hit.pending && !hit.pending.materialize))) {
        const imported = await opts.imported.lookup(key);
        if (imported && (!hit || imported.pending?.materialize)) hit = imported;
      }
      if (hit) {
        // `tbuild debug --step` works on a cached RUN too: its settings, and the layers it found
        const state = hit.pending ? undefined : impl.hitState?.(vertex, inputResults);
        const debug = state ? { ...state, layers: hit.layers.map((l) => ({ diffId: l.diffId, size: l.size, snapshot: l.snapshot })) } : undefined;
        emit({ type: 'vertex', vertex: { ...status, started, completed: Date.now(), cached: true, ...(debug ? { debug } : {}) } });
        steps.push({ vertex: d, name, cached: true, duration: Date.now() - started });
        const linked = { ...hit, link: hit.link ?? linkKey(key, hit) };
        results.set(d, linked);
        if (linked.pending) {
          rebuilders.set(d, async () => {
            const ready = await Promise.all(vertex.inputs.map((input, i) => materialize(input, inputResults[i]!)));
            const again = Date.now();
            emit({ type: 'vertex', vertex: { ...status, started: again } });
            try {
              const made = await execShared(vertex, key, ready, cacheable, d, linked.link);
              emit({ type: 'vertex', vertex: { ...status, started: again, completed: Date.now() } });
              steps.push({ vertex: d, name, cached: false, duration: Date.now() - again });
              return made;
            } catch (err) {
              emit({ type: 'vertex', vertex: { ...status, started: again, completed: Date.now(), error: (err as Error).message } });
              throw err;
            }
          });
        }
        return { key: linked.link, result: linked };
      }
    }
    if (cacheable) impl.missed?.(vertex);
    const reason = cacheable ? await reasons.reason(d, inputs.map((i) => i.key), extra, skipCache, meta?.stages ?? [], steps) : undefined;
    // a step runs on real filesystems: inputs known only from an imported cache are fetched now
    inputResults = await Promise.all(vertex.inputs.map((input, i) => materialize(input, inputResults[i]!)));
    if (signal.aborted) throw cancelled();
    emit({ type: 'vertex', vertex: { ...status, started, ...(reason ? { reason } : {}) } });
    try {
      const result = await execShared(vertex, key, inputResults, cacheable, d);
      const completed = Date.now();
      // sources (a local image, scratch) are never looked up, yet reused as they are: show them as
      // BuildKit shows a resolved local base, CACHED, unless the build said --no-cache
      const cached = !cacheable && !skipCache;
      const debug = result.debug ? { ...result.debug, layers: result.layers.map((l) => ({ diffId: l.diffId, size: l.size, snapshot: l.snapshot })) } : undefined;
      emit({ type: 'vertex', vertex: { ...status, started, completed, cached, ...(debug ? { debug } : {}) } });
      steps.push({ vertex: d, name, cached, duration: completed - started });
      results.set(d, result);
      return { key: result.link!, result };
    } catch (err) {
      const message = isTbuildError(err, 'TB_BUILD_CANCELLED') ? 'cancelled' : (err as Error).message;
      const debug = isTbuildError(err) ? (err.details.debug as Record<string, unknown> | undefined) : undefined;
      emit({ type: 'vertex', vertex: { ...status, started, completed: Date.now(), error: message, ...(debug ? { debug } : {}) } });
      throw err;
    }
  };

  /** Run once per cache key across builds; each build holds a reference until it stops waiting. */
  const execShared = (vertex: Vertex, key: Digest, inputs: VertexResult[], cacheable: boolean, d: Digest, link?: Digest): Promise<VertexResult> => {
    const log = (stream: 'stdout' | 'stderr', data: Uint8Array): void =>
      emit({ type: 'log', vertex: d, stream, data, timestamp: Date.now() });
    let job = shared.inflight.get(key);
    if (!job) {
      const jobController = new AbortController();
      const listeners = new Set<ExecIO['log']>();
      const broadcast: ExecIO['log'] = (stream, data) => {
        for (const l of listeners) l(stream, data);
      };
      const queue = localQueue ?? shared.queue;
      const sink = currentSink();
      const promise = queue
        .add(async () => {
          if (jobController.signal.aborted) throw cancelled();
          const made = await inStep(sink, d, () => impl.exec(vertex, inputs, { signal: jobController.signal, log: broadcast }));
          // an op that changed nothing hands its input back: that input's process state is not this step's
          const { debug: madeDebug, ...rest } = made;
          const own = madeDebug && !inputs.some((i) => i.debug === madeDebug) ? { debug: madeDebug } : {};
          const result: VertexResult = { ...rest, ...own, link: link ?? linkKey(key, made) };
          if (cacheable) {
            await cacheIndex.set(resultToRecord(key, result));
            await reasons.ran(d);
          }
          return result;
        })
        .then((r) => r as VertexResult);
      const created: SharedJob = { promise, controller: jobController, waiters: 0, listeners };
      job = created;
      shared.inflight.set(key, created);
      promise.then(
        () => shared.inflight.delete(key),
        () => shared.inflight.delete(key),
      );
    }
    const j = job;
    j.waiters++;
    j.listeners.add(log);
    joined.add(j);
    return new Promise<VertexResult>((resolve, reject) => {
      let left = false;
      const leave = (): void => {
        if (left) return;
        left = true;
        signal.removeEventListener('abort', onAbort);
        j.listeners.delete(log);
        j.waiters--;
      };
      const onAbort = (): void => {
        leave();
        if (j.waiters === 0) j.controller.abort();
        reject(cancelled());
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      // after an abort this build has left: a late result or error is no longer its business
      j.promise.then(
        (r) => {
          if (left) return;
          leave();
          resolve(r);
        },
        (e: unknown) => {
          if (left) return;
          leave();
          reject(e);
        },
      );
    });
  };

  const reasons = new MissReasons(def, impl, cacheIndex, opts);

  /** Fetch an imported result's layers once, and record it locally so the next build hits here. */
  const materialize = (d: Digest, r: VertexResult): Promise<VertexResult> => {
    if (!r.pending) return Promise.resolve(r);
    let p = materializing.get(d);
    if (!p) {
      const pending = r.pending;
      const rebuild = rebuilders.get(d);
      const rebuildOr = (err: unknown): Promise<VertexResult> => (rebuild ? rebuild() : Promise.reject(err));
      // an imported cache that cannot deliver (blob gone, bytes wrong) costs the step's time, not the build
      const name = def.meta.get(d)?.name ?? d;
      // fetching is a step of its own in the progress: the cached step it serves has already ended
      const fetching = { id: digestOf({ fetch: d }), name: pending.label ?? `importing cached layers of ${name}`, inputs: [d] };
      const fetch = (m: NonNullable<typeof pending.materialize>): Promise<VertexResult> => {
        const started = Date.now();
        emit({ type: 'vertex', vertex: { ...fetching, started } });
        return m(signal, (st) =>
          emit({ type: 'status', vertex: fetching.id, id: st.id, name: st.id, current: st.current, ...(st.total !== undefined ? { total: st.total } : {}), ...(st.completed ? { completed: true } : {}) }),
        ).then(
          (r) => {
            emit({ type: 'vertex', vertex: { ...fetching, started, completed: Date.now() } });
            return r;
          },
          (err: unknown) => {
            emit({ type: 'vertex', vertex: { ...fetching, started, completed: Date.now(), error: (err as Error).message } });
            throw err;
          },
        );
      };
      const made = pending.materialize
        ? fetch(pending.materialize.bind(pending)).catch((err: unknown) => {
            // a base image that cannot be pulled has no step to fall back on: its error is the build's
            if (signal.aborted || isTbuildError(err, 'TB_BUILD_CANCELLED') || !rebuild) throw err;
            emit({ type: 'warning', message: `imported cache for ${name} is unusable (${(err as Error).message}): running the step` });
            return rebuildOr(err);
          })
        : rebuildOr(new TbuildError('TB_INTERNAL', `no way to materialize ${d}`));
      p = made.then(async (m) => {
        const done: VertexResult = { ...m, link: r.link, ...(r.created ? { created: r.created } : {}) };
        delete done.pending;
        const key = cacheKeys.get(d);
        if (key && recorded.has(d)) await cacheIndex.set(resultToRecord(key, done));
        results.set(d, done);
        await adoptPrefixes(done);
        return done;
      });
      p.catch(() => {});
      materializing.set(d, p);
    }
    return p;
  };

  /**
   * Imported results whose layers are the bottom of a chain just applied are on disk now too:
   * they become local results (and records), so the next build hits them without any import.
   */
  const adoptPrefixes = async (chain: VertexResult): Promise<void> => {
    const ids = chain.layers.map((l) => l.diffId);
    for (const [v, r] of results) {
      const wanted = r.pending?.materialize ? r.pending.diffIds : undefined;
      if (!wanted || materializing.has(v) || wanted.length > ids.length || wanted.some((x, i) => ids[i] !== x)) continue;
      const layers = chain.layers.slice(0, wanted.length);
      const adopted: VertexResult = { layers, ...(layers.length ? { snapshot: layers.at(-1)!.snapshot } : {}), link: r.link, ...(r.created ? { created: r.created } : {}) };
      materializing.set(v, Promise.resolve(adopted));
      results.set(v, adopted);
      const key = cacheKeys.get(v);
      if (key && recorded.has(v)) await cacheIndex.set(resultToRecord(key, adopted));
    }
  };

  try {
    const all = [...def.vertices.keys()].filter((d) => reachable(def, roots).has(d));
    const settled = all.map((d) =>
      visit(d).catch((err) => {
        if (firstError === undefined) {
          firstError = err;
          controller.abort(err);
        }
      }),
    );
    await Promise.all(settled);
    if (firstError === undefined) {
      await Promise.all(roots.map((r) => (results.has(r) ? materialize(r, results.get(r)!) : undefined))).catch((err: unknown) => {
        firstError = err;
      });
    }
    if (firstError === undefined) {
      // what stayed imported is remembered by identity: the next build here keys its steps the same
      for (const [v, r] of results) {
        const key = cacheKeys.get(v);
        if (r.pending && key && recorded.has(v) && !materializing.has(v)) await cacheIndex.set(identityRecord(key, r));
      }
    }
    // jobs nobody else waits for were aborted: let them release containers and mounts first
    await Promise.allSettled([...joined].filter((j) => j.waiters === 0).map((j) => j.promise));
    if (firstError !== undefined) throw firstError;
    if (opts.signal?.aborted) throw cancelled();
    return { results, keys: cacheKeys, steps };
  } finally {
    opts.signal?.removeEventListener('abort', onOuterAbort);
  }
}

/**
 * The key dependents see: the vertex's cache key tied to the concrete result it stands for. A cache
 * hit gives back the recorded result, so dependents keep their keys; a step that ran again (a
 * --no-cache-filter stage) has a new result, so everything built on it runs again too, as
 * BuildKit's result-linked cache records behave.
 */
function linkKey(key: Digest, result: VertexResult): Digest {
  return digestOf({ key, snapshot: result.snapshot ?? null });
}

function reachable(def: Definition, roots: Digest[]): Set<Digest> {
  const seen = new Set<Digest>();
  const stack = [...roots];
  while (stack.length) {
    const d = stack.pop()!;
    if (seen.has(d)) continue;
    seen.add(d);
    const v = def.vertices.get(d);
    if (v) stack.push(...v.inputs);
  }
  return seen;
}
