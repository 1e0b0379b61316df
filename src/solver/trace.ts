/** `TBUILD_TRACE=1`: phase timings of each step on stderr, for finding where build time goes. */
let enabled = false;

/** Switched on by the composition root, which reads the setting. */
export function enableTracing(on: boolean): void {
  enabled = on;
}

export async function traced<T>(label: string, fn: () => Promise<T>): Promise<T> {
  if (!enabled) return fn();
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    process.stderr.write(`[trace] +${t0.toFixed(0)}ms ${label} ${(performance.now() - t0).toFixed(1)}ms\n`);
  }
}
