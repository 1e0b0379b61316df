import type { ProgressEvent } from '../solver/types.js';
import type { PhaseSpan } from '../util/trace.js';

/**
 * Chrome trace events (`ph: "X"`, microseconds) for a build's steps, one track (`tid`) per
 * parallel lane: a step goes to the first lane free when it starts, so steps that overlap sit on
 * different tracks. A step's phases (snapshot prepare, runtime setup, the process, diff, commit)
 * sit on its track inside it; the build's own (context transfer, export) on a track of their own.
 * Perfetto and chrome://tracing open the file as it is.
 */

export interface TimedStep {
  name: string;
  vertex: string;
  started: number;
  completed: number;
  cached: boolean;
  error?: string;
}

/** Collects the timing of each step from a build's progress events. */
export class StepTimer {
  readonly #steps = new Map<string, Partial<TimedStep> & { name: string; vertex: string }>();
  readonly #phases: PhaseSpan[] = [];

  phase(span: PhaseSpan): void {
    this.#phases.push(span);
  }

  phases(): PhaseSpan[] {
    return [...this.#phases];
  }

  event(e: ProgressEvent): void {
    if (e.type !== 'vertex') return;
    const v = e.vertex;
    const s = this.#steps.get(v.id) ?? { name: v.name, vertex: v.id };
    s.name = v.name;
    if (v.started !== undefined && s.started === undefined) s.started = v.started;
    if (v.completed !== undefined) s.completed = v.completed;
    if (v.cached) s.cached = true;
    if (v.error) s.error = v.error;
    this.#steps.set(v.id, s);
  }

  steps(): TimedStep[] {
    return [...this.#steps.values()]
      .filter((s): s is TimedStep => s.started !== undefined && s.completed !== undefined)
      .map((s) => ({ ...s, cached: Boolean(s.cached) }))
      .sort((a, b) => a.started - b.started);
  }
}

/** Lane of each step (index into `steps`), first free lane at its start. */
export function lanes(steps: TimedStep[]): number[] {
  const busyUntil: number[] = [];
  return steps.map((s) => {
    let lane = busyUntil.findIndex((end) => end <= s.started);
    if (lane < 0) lane = busyUntil.length;
    busyUntil[lane] = s.completed;
    return lane;
  });
}

export function chromeTrace(steps: TimedStep[], phases: PhaseSpan[] = []): { traceEvents: Array<Record<string, unknown>>; displayTimeUnit: string } {
  const l = lanes(steps);
  const starts = [...steps.map((s) => s.started), ...phases.map((p) => p.started)];
  const origin = starts.length ? Math.min(...starts) : 0;
  const us = (ms: number) => Math.round((ms - origin) * 1000);
  const events: Array<Record<string, unknown>> = [{ name: 'process_name', ph: 'M', pid: 1, args: { name: 'tbuild build' } }];
  const buildTrack = 0;
  if (phases.some((p) => p.vertex === undefined)) events.push({ name: 'thread_name', ph: 'M', pid: 1, tid: buildTrack, args: { name: 'build' } });
  for (const lane of new Set(l)) events.push({ name: 'thread_name', ph: 'M', pid: 1, tid: lane + 1, args: { name: `lane ${lane + 1}` } });
  const laneOf = new Map<string, number>();
  steps.forEach((s, i) => {
    laneOf.set(s.vertex, l[i]! + 1);
    events.push({
      name: s.name,
      cat: s.error ? 'failed' : s.cached ? 'cached' : 'ran',
      ph: 'X',
      ts: us(s.started),
      dur: Math.max(0, us(s.completed) - us(s.started)),
      pid: 1,
      tid: l[i]! + 1,
      args: { vertex: s.vertex, cached: s.cached, ...(s.error ? { error: s.error } : {}) },
    });
  });
  for (const p of phases) {
    // a phase of a step that never reported its times (cancelled before it began) has no track
    const tid = p.vertex === undefined ? buildTrack : laneOf.get(p.vertex);
    if (tid === undefined) continue;
    events.push({
      name: p.name,
      cat: 'phase',
      ph: 'X',
      ts: us(p.started),
      dur: Math.max(0, us(p.completed) - us(p.started)),
      pid: 1,
      tid,
      args: p.vertex ? { vertex: p.vertex } : {},
    });
  }
  return { traceEvents: events, displayTimeUnit: 'ms' };
}

/** What an OpenTelemetry export of one build is made of (`records/otel.ts`). */
export interface BuildTrace {
  name: string;
  started: number;
  completed: number;
  error?: string;
  attributes: Record<string, string | number | boolean>;
  steps: TimedStep[];
  phases: PhaseSpan[];
  traceParent?: string;
}


export function buildTrace(
  timer: StepTimer,
  started: number,
  options: { dockerfile?: string; tags?: string[]; traceParent?: string },
  imageId?: string,
  error?: Error,
): BuildTrace {
  return {
    name: 'build',
    started,
    completed: Date.now(),
    ...(error ? { error: error.message } : {}),
    attributes: {
      'tbuild.dockerfile': options.dockerfile ?? 'Dockerfile',
      ...(options.tags?.length ? { 'tbuild.tags': options.tags.join(',') } : {}),
      ...(imageId ? { 'tbuild.image': imageId } : {}),
    },
    steps: timer.steps(),
    phases: timer.phases(),
    ...(options.traceParent ? { traceParent: options.traceParent } : {}),
  };
}
