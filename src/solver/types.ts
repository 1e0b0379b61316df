import type { Digest } from '../util/digest.js';
import type { Vertex } from './graph/types.js';
import type { ResultSource, VertexResult } from './result.js';

/** What the scheduler asks of the worker, takes as options and gives back. */

/** Per-vertex behaviour the scheduler calls; the scheduler itself knows nothing about containers. */
export interface VertexImpl {
  /**
   * The vertex's own contribution to its cache key beyond op digest and input keys (e.g. the
   * checksums of the context files a COPY reads). Undefined when the op alone decides.
   */
  contentKey(vertex: Vertex, inputs: VertexResult[], signal: AbortSignal): Promise<string | undefined>;
  /** Whether results are recorded in (and looked up from) the cache index. */
  cacheable(vertex: Vertex): boolean;
  /** Whether a cached record's result still exists (its snapshot was not pruned). */
  valid(result: VertexResult): Promise<boolean>;
  exec(vertex: Vertex, inputs: VertexResult[], io: ExecIO): Promise<VertexResult>;
  /**
   * A cacheable vertex missed the cache and will run: the worker may start on what the steps to
   * come need (a RUN's network namespace) without slowing a build that turns out all cached.
   */
  missed?(vertex: Vertex): void;
  /** What a step found in the cache would have reported as its `debug` state had it run (RUN steps). */
  hitState?(vertex: Vertex, inputs: VertexResult[]): Record<string, unknown> | undefined;
}

export interface ExecIO {
  signal: AbortSignal;
  /** Output of the step, as it arrives. */
  log(stream: 'stdout' | 'stderr', data: Uint8Array): void;
}

export interface SolveOptions {
  noCache?: boolean;
  /** Stage names/indices whose vertices skip the cache lookup. */
  noCacheFilter?: Set<string>;
  maxParallelism?: number;
  signal?: AbortSignal;
  onProgress?: (e: ProgressEvent) => void;
  /** Imported caches (`--cache-from`), asked when the local index has no record for a key. */
  imported?: ResultSource;
}

export interface Solved {
  /** Every vertex's result; the roots' are materialized, others may still be pending (imported). */
  results: Map<Digest, VertexResult>;
  /** Every vertex's cache key (what a cache export records). */
  keys: Map<Digest, Digest>;
  steps: StepTiming[];
}

/** What the scheduler reports while it solves: vertex states, logs, statuses and warnings. */

export interface StepTiming {
  vertex: Digest;
  name: string;
  cached: boolean;
  /** Milliseconds. */
  duration: number;
}

export interface VertexStatus {
  /** Vertex digest. */
  id: Digest;
  /** `[stage 2/5] RUN make` style display name. */
  name: string;
  inputs: Digest[];
  started?: number;
  completed?: number;
  cached?: boolean;
  /** Why a cacheable step ran instead of coming from the cache (set when it starts). */
  reason?: string;
  error?: string;
  /** What a failed op left to look into (a failed RUN's filesystem and process: `tbuild debug`). */
  debug?: Record<string, unknown>;
}

export type ProgressEvent =
  | { type: 'vertex'; vertex: VertexStatus }
  | { type: 'log'; vertex: Digest; stream: 'stdout' | 'stderr'; data: Uint8Array; timestamp: number }
  | { type: 'status'; vertex: Digest; id: string; name: string; current: number; total?: number; completed?: boolean }
  | { type: 'warning'; message: string; rule?: string; line?: number };
