import type { Readable } from 'node:stream';

/**
 * Build records: every build (CLI, library, daemon `/build`, buildx) leaves one in the state root,
 * with each step's timing, cache hit, error and its whole output (never clipped), so a build can
 * be looked at after the fact. Stored by `records/store.ts` under `<root>/builds/<id>/`.
 */

export interface StepRecord {
  /** 1-based, in the order the steps started. */
  index: number;
  /** The vertex digest. */
  vertex: string;
  /** `[2/4] RUN make` style name. */
  name: string;
  /** Vertex digests of the steps it builds on (for the report's critical path). */
  inputs?: string[];
  cached: boolean;
  /** Why the step ran instead of coming from the cache (cacheable steps that ran). */
  reason?: string;
  /** ISO times; absent when the step never started. */
  startedAt?: string;
  completedAt?: string;
  durationMs?: number;
  error?: string;
  /**
   * A failed RUN's state, kept until the next build of the root: its layers (the last one holds
   * what the step wrote before it failed) and its process settings. `tbuild debug` starts a
   * container in it.
   */
  debug?: StepDebugState;
  /** Bytes of output kept in the step's log file. */
  logBytes: number;
}

export interface StepDebugState {
  layers: Array<{ diffId: string; size: number; snapshot: string }>;
  env: string[];
  cwd: string;
  user: string;
  args: string[];
  /** The step's `RUN --mount`s as they can be made again (secrets and ssh agents by id only). */
  mounts?: DebugMount[];
}

export type DebugMount =
  | { type: 'cache'; target: string; dir: string; readonly: boolean }
  | { type: 'tmpfs'; target: string; size?: number }
  /** From another stage's files (its layers) or from the build context's directory. */
  | { type: 'bind'; target: string; source: string; readonly: boolean; layers?: Array<{ diffId: string; size: number; snapshot: string }>; context?: string }
  | { type: 'secret'; id: string; target?: string; env?: string }
  | { type: 'ssh'; id: string; target: string };

export interface BuildRecord {
  id: string;
  /** The client's name for the build (buildx's Solve ref): BuildKit's history API knows it by this. */
  ref?: string;
  startedAt: string;
  endedAt?: string;
  durationMs?: number;
  status: 'running' | 'completed' | 'failed';
  /** The Dockerfile's name as given and the sha256 of its text. */
  dockerfile: { name: string; digest?: string };
  target?: string;
  /** Build arg names and values (secrets are never build args; they are not recorded). */
  args: Record<string, string>;
  tags: string[];
  result?: { imageId: string; digest: string };
  error?: string;
  /** Warnings the build reported (build checks, ignored options…). */
  warnings?: number;
  steps: StepRecord[];
}

export interface BuildRecordSummary {
  id: string;
  startedAt: string;
  durationMs?: number;
  status: BuildRecord['status'];
  result?: string;
  stepsCached: number;
  stepsTotal: number;
}

/** What a running build reports to its record. */
export interface BuildRecorder {
  readonly id: string;
  /** The build's progress events (vertex starts/ends, logs). */
  event(e: import('../solver/types.js').ProgressEvent): void;
  /** The Dockerfile as the build read it (its digest goes in the record). */
  dockerfile(text: string): void;
  finish(outcome: { result?: { imageId: string; digest: string }; error?: Error }): Promise<void>;
}

/** A record came, was finished, or went (this process's builds and removals). */
export interface BuildRecordEvent {
  type: 'started' | 'completed' | 'deleted';
  id: string;
}

export interface BuildRecords {
  start(meta: { dockerfile: string; dockerfileText?: string; target?: string; args: Record<string, string>; tags: string[]; ref?: string }): Promise<BuildRecorder>;
  /** Be told of records started, finished and removed in this process; returns the unsubscribe. */
  watch(listener: (e: BuildRecordEvent) => void): () => void;
  /** Newest first. */
  list(): Promise<BuildRecordSummary[]>;
  /** `last` is the newest; an id prefix of 6+ characters works. TB_BUILD_RECORD_NOT_FOUND otherwise. */
  get(ref: string): Promise<BuildRecord>;
  /** One step's whole output (`step` 1-based), or every step's in order. */
  logs(ref: string, step?: number): Promise<Readable>;
  remove(ref: string): Promise<void>;
  /** Keep the newest `keep` and those younger than `maxAgeMs`; returns the ids removed. */
  prune(opts?: { keep?: number; maxAgeMs?: number; all?: boolean }): Promise<string[]>;
}

/** The OTLP encodings a build's spans can be sent in, as `OTEL_EXPORTER_OTLP_PROTOCOL` names them. */
export type OtlpProtocol = 'grpc' | 'http/protobuf' | 'http/json';
