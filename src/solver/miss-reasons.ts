import type { CacheIndex, CacheRecord } from '../cache/types.js';
import { digestOf, type Digest } from '../util/digest.js';
import type { Definition, Vertex } from './graph/types.js';
import type { StepTiming } from './types.js';

const NO_RECORD = 'no cache record for this step on these inputs (not built here before, or pruned)';

/**
 * Why a cacheable step ran instead of coming from the cache, for the build record. Steps that read
 * files (COPY, bind mounts, ADD of a URL or git source) leave a small record keyed by their op and
 * inputs alone, holding a digest of what they read: a later miss on the same op and inputs is then
 * "the files it reads changed", not "never built". `builder prune -a` drops those records.
 */
export class MissReasons {
  readonly #reads = new Map<Digest, CacheRecord>();

  constructor(
    private readonly def: Definition,
    private readonly impl: { cacheable(v: Vertex): boolean },
    private readonly index: CacheIndex,
    private readonly opts: { noCache?: boolean; noCacheFilter?: Set<string> },
  ) {}

  async reason(d: Digest, inputKeys: Digest[], extra: string | undefined, skipCache: boolean, stages: string[], steps: readonly StepTiming[]): Promise<string> {
    const readsKey = extra === undefined ? undefined : digestOf({ reads: d, inputs: inputKeys });
    const now = extra === undefined ? undefined : digestOf(extra);
    if (readsKey) this.#reads.set(d, { key: readsKey, meta: { reads: now }, created: new Date().toISOString() });
    if (this.opts.noCache) return 'the build asked for no cache (--no-cache)';
    if (skipCache) return `its stage is in --no-cache-filter (${stages.find((st) => this.opts.noCacheFilter?.has(st.toLowerCase())) ?? stages[0]})`;
    const ranInput = this.def.vertices.get(d)!.inputs.find((i) => steps.some((st) => st.vertex === i && !st.cached) && this.impl.cacheable(this.def.vertices.get(i)!));
    if (ranInput) return `a step it builds on ran: ${this.def.meta.get(ranInput)?.name ?? ranInput}`;
    const before = readsKey ? await this.index.get(readsKey) : undefined;
    if (before && before.meta?.reads !== now) return 'the files it reads changed since it last ran here';
    return NO_RECORD;
  }

  /** The step ran: remember what it read. */
  async ran(d: Digest): Promise<void> {
    const rec = this.#reads.get(d);
    if (rec) await this.index.set(rec).catch(() => {});
  }
}
