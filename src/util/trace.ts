import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Phase timings of each step: what `--trace` files and OpenTelemetry spans show inside a step
 * (snapshot prepare, runtime setup, the process, diff, commit…), and, with `TBUILD_TRACE=1`, lines
 * on stderr for finding where build time goes.
 */
let enabled = false;

/** Switched on by the composition root, which reads the setting. */
export function enableTracing(on: boolean): void {
  enabled = on;
}

/** One phase; times in milliseconds since 1970 (with fractions). */
export interface PhaseSpan {
  name: string;
  /** The step (vertex digest) it belongs to; none for the build's own phases (context, export…). */
  vertex?: string;
  started: number;
  completed: number;
}

export type SpanSink = (span: PhaseSpan) => void;

interface Scope {
  sink: SpanSink;
  vertex?: string;
}

// A phase finds the build and step it belongs to through the async context: phases run deep in
// ops and stores that know nothing of builds, and a daemon runs many builds at once.
const scope = new AsyncLocalStorage<Scope>();

/** Run `fn` (a build) with its phases reported to `sink`. */
export function collectPhases<T>(sink: SpanSink, fn: () => Promise<T>): Promise<T> {
  return scope.run({ sink }, fn);
}

/** Where phases started now go; to carry across a queue, which runs tasks in its own context. */
export function currentSink(): SpanSink | undefined {
  return scope.getStore()?.sink;
}

/** Run `fn` (one step's work) with its phases reported as the step `vertex`'s to `sink`. */
export function inStep<T>(sink: SpanSink | undefined, vertex: string, fn: () => Promise<T>): Promise<T> {
  return sink ? scope.run({ sink, vertex }, fn) : fn();
}

const now = () => performance.timeOrigin + performance.now();

export async function traced<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const s = scope.getStore();
  if (!enabled && !s) return fn();
  const t0 = now();
  try {
    return await fn();
  } finally {
    const t1 = now();
    s?.sink({ name: label, ...(s.vertex ? { vertex: s.vertex } : {}), started: t0, completed: t1 });
    if (enabled) process.stderr.write(`[trace] +${(t0 - performance.timeOrigin).toFixed(0)}ms ${label} ${(t1 - t0).toFixed(1)}ms\n`);
  }
}

/** A W3C trace context `traceparent` (version-traceid-parentid-flags), as clients send it. */
export function isTraceParent(v: string): boolean {
  return /^[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/.test(v);
}
