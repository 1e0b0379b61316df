/** Nanoseconds per unit of Go's `time.ParseDuration`. */
const UNITS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3,
  'μs': 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/**
 * Go duration syntax (`1m30s`, `1.5h`, `300ms`, `0`) to nanoseconds, or undefined when invalid.
 * Results are rounded to whole nanoseconds.
 */
export function parseGoDuration(text: string): number | undefined {
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (!s) return undefined;
  const part = /^(\d*)(?:\.(\d*))?([a-zµμ]+)/;
  let total = 0;
  while (s) {
    const m = part.exec(s);
    if (!m || (!m[1] && !m[2])) return undefined;
    const unit = UNITS[m[3]!];
    if (unit === undefined) return undefined;
    const whole = m[1] ? Number(m[1]) : 0;
    const frac = m[2] ? Number(`0.${m[2]}`) : 0;
    total += whole * unit + frac * unit;
    s = s.slice(m[0].length);
  }
  return sign * Math.round(total);
}
