import type { ProgressEvent } from '../../build/types.js';

type StatusEvent = Extract<ProgressEvent, { type: 'status' }>;

/** One status line of a step (a layer being pulled, a transfer, `writing image …`), as the renderers track it. */
export interface StatusLine {
  id: string;
  current: number;
  total?: number;
  /** When it was first seen (statuses carry no times of their own). */
  first: number;
  completed?: number;
  /** When and at how many bytes the plain printer last showed it. */
  printed?: { at: number; current: number };
}

/** Fold an event into the step's status lines; the line it changed. */
export function trackStatus(lines: Map<string, StatusLine>, e: StatusEvent, now: number): StatusLine {
  let s = lines.get(e.id);
  if (!s) {
    s = { id: e.id, current: e.current, first: now };
    lines.set(e.id, s);
  }
  s.current = e.current;
  if (e.total !== undefined) s.total = e.total;
  if (e.completed && s.completed === undefined) s.completed = now;
  return s;
}

/** Byte counts as BuildKit prints them: whole bytes below 1 kB, else two decimals of kB, MB, GB… */
export function buildkitBytes(n: number): string {
  if (n < 1000) return `${Math.round(n)}B`;
  const units = ['kB', 'MB', 'GB', 'TB', 'PB'];
  let v = n / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(2)}${units[i]}`;
}

/** The bytes part: `1.20MB / 3.40MB` with a total, `59B` without, nothing for none. */
export function statusBytes(s: StatusLine): string {
  if (s.total) return `${buildkitBytes(s.current)} / ${buildkitBytes(s.total)}`;
  return s.current ? buildkitBytes(s.current) : '';
}

/** Seconds since the line appeared, when more than a hundredth: BuildKit leaves out an instant's time. */
export function statusTime(s: StatusLine, now: number): string {
  const ms = (s.completed ?? now) - s.first;
  return ms > 10 ? `${(ms / 1000).toFixed(1)}s` : '';
}
