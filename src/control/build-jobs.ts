import { ruleUrlOf } from '../parser/checks/types.js';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { ProgressEvent } from '../build/types.js';
import { TbuildError } from '../errors.js';
import { Channel } from './channel.js';
import { PositionSchema, RangeSchema, SourceInfoSchema } from './gen/github.com/moby/buildkit/solver/pb/ops_pb.js';
import { type StatusResponse, StatusResponseSchema, VertexLogSchema, VertexSchema, VertexStatusSchema, VertexWarningSchema } from './gen/github.com/moby/buildkit/api/services/control/control_pb.js';

/**
 * One build by its client-chosen ref: the progress `Status` streams (which may subscribe before
 * or after `Solve` arrives), and, for buildx's gateway builds, the hand-off between `Control.Solve`
 * and the `LLBBridge` calls carrying the same ref.
 */
export class BuildJob {
  readonly ref: string;
  #backlog: StatusResponse[] = [];
  #subscribers = new Set<Channel<StatusResponse>>();
  #finished = false;
  /** Set by `Control.Solve` for a gateway build; the bridge's `Solve` runs it. */
  gateway?: GatewayBuild;
  /** True once a `Control.Solve` owns this ref. */
  claimed = false;
  /** Cache imports the Control Solve carries out (the gateway's own list mirrors them). */
  cacheImports = 0;
  #gatewayWaiters = new Set<() => void>();
  /** Aborted when the job's Solve ends (its status streams end with it). */
  readonly done = new AbortController();

  constructor(ref: string) {
    this.ref = ref;
  }

  push(resp: StatusResponse): void {
    if (this.#finished) return;
    this.#backlog.push(resp);
    for (const s of this.#subscribers) s.push(resp);
  }

  #statusStarted = new Map<string, number>();

  /** The Dockerfile, once synced: warnings with a line point into it. */
  source?: { name: string; data: Uint8Array };

  progress(ev: ProgressEvent): void {
    let started: number | undefined;
    if (ev.type === 'status') {
      const key = `${ev.vertex}\0${ev.id}`;
      started = this.#statusStarted.get(key) ?? Date.now();
      this.#statusStarted.set(key, started);
    }
    this.push(statusOf(ev, started, this.source));
  }

  subscribe(): AsyncIterable<StatusResponse> {
    const ch = new Channel<StatusResponse>();
    for (const r of this.#backlog) ch.push(r);
    if (this.#finished) ch.close();
    else this.#subscribers.add(ch);
    return ch;
  }

  /**
   * A gateway build (buildx): the client drives it through the bridge with this ref, asking for a
   * Dockerfile build and then returning the result. Resolves to the exporter response once the
   * client has returned the result that was built; a client error or a build failure rejects.
   */
  runGateway(controlAttrs: Record<string, string>, solve: (attrs: Record<string, string>) => Promise<Record<string, string>>, signal: AbortSignal, emptyOk: boolean): Promise<Record<string, string>> {
    return new Promise((resolve, reject) => {
      let response: Record<string, string> | undefined;
      let failed: unknown;
      const resultId = `${this.ref}-result`;
      const onAbort = () => reject(signal.reason ?? new Error('build cancelled'));
      signal.addEventListener('abort', onAbort, { once: true });
      this.gateway = {
        solve: async (attrs) => {
          if (response) throw new TbuildError('TB_BUILDKIT_UNSUPPORTED', 'a second solve within one buildx build is not supported by tbuild');
          try {
            response = await solve({ ...controlAttrs, ...attrs });
          } catch (err) {
            failed = err;
            throw err;
          }
          return resultId;
        },
        returned: ({ ref, error }) => {
          signal.removeEventListener('abort', onAbort);
          if (error !== undefined) reject(failed ?? new Error(error));
          // buildx's probe for platforms and build options: a gateway build that solves nothing.
          else if (!response && !ref && emptyOk) resolve({});
          else if (!response || ref !== resultId) reject(new TbuildError('TB_BUILDKIT_UNSUPPORTED', 'the client returned a result tbuild did not build'));
          else resolve(response);
        },
      };
      for (const w of this.#gatewayWaiters) w();
      this.#gatewayWaiters.clear();
    });
  }

  /** The gateway build, once `Control.Solve` has set it up (bridge calls may arrive first). */
  async waitGateway(timeoutMs: number): Promise<GatewayBuild> {
    if (this.gateway) return this.gateway;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      this.#gatewayWaiters.add(() => {
        clearTimeout(t);
        resolve();
      });
    });
    if (!this.gateway) throw new TbuildError('TB_BUILDKIT_SESSION', `no build with ref ${this.ref} is waiting for its frontend`);
    return this.gateway;
  }

  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    for (const s of this.#subscribers) s.close();
    this.#subscribers.clear();
    this.done.abort();
  }
}

/** What a gateway build waits on: the client's `Return`, or a failure of the build it asked for. */
export interface GatewayBuild {
  /** Runs the build for the bridge's `Solve(frontend, opts)`; resolves to the result's ref id. */
  solve(frontendAttrs: Record<string, string>): Promise<string>;
  /** The client's `Return`: the ref it returns, or its error. */
  returned(result: { ref?: string; error?: string }): void;
}

/** Jobs by ref; a finished job lingers briefly so a late `Status` still gets its backlog. */
export class BuildJobs {
  #jobs = new Map<string, BuildJob>();

  get(ref: string): BuildJob {
    let job = this.#jobs.get(ref);
    if (!job) {
      job = new BuildJob(ref);
      this.#jobs.set(ref, job);
      // A Status for a ref no Solve ever claims must not keep its job forever.
      const orphan = setTimeout(() => this.finish(ref), 10 * 60_000);
      orphan.unref();
      job.done.signal.addEventListener('abort', () => clearTimeout(orphan));
    }
    return job;
  }

  find(ref: string): BuildJob | undefined {
    return this.#jobs.get(ref);
  }

  finish(ref: string): void {
    const job = this.#jobs.get(ref);
    if (!job) return;
    job.finish();
    setTimeout(() => {
      if (this.#jobs.get(ref) === job) this.#jobs.delete(ref);
    }, 30_000).unref();
  }

  close(): void {
    for (const ref of [...this.#jobs.keys()]) this.finish(ref);
  }
}

function ts(ms: number | undefined) {
  return ms === undefined ? undefined : timestampFromMs(ms);
}

/** A tbuild progress event as BuildKit's StatusResponse, which buildx renders. */
export function statusOf(ev: ProgressEvent, started?: number, source?: { name: string; data: Uint8Array }): StatusResponse {
  switch (ev.type) {
    case 'vertex': {
      const v = ev.vertex;
      return create(StatusResponseSchema, {
        vertexes: [
          create(VertexSchema, {
            digest: v.id,
            inputs: v.inputs,
            name: v.name,
            cached: v.cached ?? false,
            started: ts(v.started),
            completed: ts(v.completed),
            error: v.error ?? '',
          }),
        ],
      });
    }
    case 'log':
      return create(StatusResponseSchema, {
        logs: [create(VertexLogSchema, { vertex: ev.vertex, stream: BigInt(ev.stream === 'stdout' ? 1 : 2), msg: ev.data, timestamp: ts(ev.timestamp) })],
      });
    case 'status':
      return create(StatusResponseSchema, {
        statuses: [
          create(VertexStatusSchema, {
            ID: ev.id,
            vertex: ev.vertex,
            name: ev.name,
            current: BigInt(Math.round(ev.current)),
            total: BigInt(Math.round(ev.total ?? 0)),
            timestamp: ts(Date.now()),
            started: ts(started ?? Date.now()),
            completed: ev.completed ? ts(Date.now()) : undefined,
          }),
        ],
      });
    case 'warning': {
      // BuildKit's check warnings read `RuleName: message`; with the Dockerfile and line, buildx
      // prints where (`--debug` shows the excerpt).
      const text = ev.rule && !ev.message.startsWith(`${ev.rule}:`) ? `${ev.rule}: ${ev.message}` : ev.message;
      const short = ev.line ? `${text} (line ${ev.line})` : text;
      const where =
        source && ev.line
          ? {
              info: create(SourceInfoSchema, { filename: source.name, data: source.data, language: 'Dockerfile' }),
              ranges: [create(RangeSchema, { start: create(PositionSchema, { line: ev.line }), end: create(PositionSchema, { line: ev.line }) })],
            }
          : {};
      return create(StatusResponseSchema, {
        warnings: [create(VertexWarningSchema, { level: 1n, short: new TextEncoder().encode(short), url: ev.rule ? ruleUrlOf(ev.rule) : '', ...where })],
      });
    }
  }
}

