import type { Digest } from '../util/digest.js';

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
