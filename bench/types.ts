/** One measured figure. `npm run bench` prints every row as a table and writes bench/out/results.json. */
export interface BenchRow {
  area: string;
  name: string;
  value: number;
  unit: string;
  /** Human-readable target, e.g. "<= 60 ms". */
  target?: string;
  /** Whether the target was met (undefined when there is no target). */
  met?: boolean;
  /** Extra context: BuildKit's figure, ratio, samples. */
  note?: string;
}

/** Each bench module exports `bench(): Promise<BenchRow[]>`; bench/run.ts runs them in order. */
export type BenchModule = { bench: (opts: { only?: string[] }) => Promise<BenchRow[]> };

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
