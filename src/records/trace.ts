import type { ProgressEvent } from '../solver/types.js';

/**
 * Chrome trace events (`ph: "X"`, microseconds) for a build's steps, one track (`tid`) per
 * parallel lane: a step goes to the first lane free when it starts, so steps that overlap sit on
 * different tracks. Perfetto and chrome://tracing open the file as it is.
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

export function chromeTrace(steps: TimedStep[]): { traceEvents: Array<Record<string, unknown>>; displayTimeUnit: string } {
  const l = lanes(steps);
  const origin = steps.length ? Math.min(...steps.map((s) => s.started)) : 0;
  const events: Array<Record<string, unknown>> = [{ name: 'process_name', ph: 'M', pid: 1, args: { name: 'tbuild build' } }];
  for (const lane of new Set(l)) events.push({ name: 'thread_name', ph: 'M', pid: 1, tid: lane + 1, args: { name: `lane ${lane + 1}` } });
  steps.forEach((s, i) => {
    events.push({
      name: s.name,
      cat: s.error ? 'failed' : s.cached ? 'cached' : 'ran',
      ph: 'X',
      ts: (s.started - origin) * 1000,
      dur: Math.max(0, s.completed - s.started) * 1000,
      pid: 1,
      tid: l[i]! + 1,
      args: { vertex: s.vertex, cached: s.cached, ...(s.error ? { error: s.error } : {}) },
    });
  });
  return { traceEvents: events, displayTimeUnit: 'ms' };
}
