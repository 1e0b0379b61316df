import { TbuildError } from '../errors.js';

/**
 * Docker's list and prune filters, as one map from filter name to its values, whether they came
 * from `--filter k=v` flags or an API's `filters` query. Within one name the values are
 * alternatives (`-f name=a -f name=b`: either), across names every one must hold; `label` is the
 * exception, where every value must hold, as in Docker.
 */
export type Filters = ReadonlyMap<string, readonly string[]>;

/** The filters of `docker container prune` and `docker network prune`. */
export const PRUNE_FILTERS = ['until', 'label', 'label!'] as const;

/** `--filter k=v` flags (repeatable) → filters. A flag without `=` is refused, as Docker's CLI does. */
export function filtersFromFlags(specs: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new TbuildError('TB_INVALID_ARGUMENT', `bad format of filter (expected name=value): ${spec}`);
    const key = spec.slice(0, eq).trim().toLowerCase();
    const list = out.get(key) ?? [];
    list.push(spec.slice(eq + 1));
    out.set(key, list);
  }
  return out;
}

/** Filters as the Engine API's `filters` query value (JSON), or undefined when there are none. */
export function filtersQuery(filters: Filters | undefined): string | undefined {
  if (!filters?.size) return undefined;
  return JSON.stringify(Object.fromEntries([...filters].map(([k, v]) => [k, Object.fromEntries(v.map((x) => [x, true]))])));
}

/** Refuse a filter name the command does not know (Docker: `invalid filter 'x'`), never ignore it. */
export function checkFilterNames(filters: Filters, allowed: readonly string[]): void {
  for (const key of filters.keys()) {
    if (!allowed.includes(key)) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid filter '${key}'`);
  }
}

/** True when the filter is absent or one of its values passes `test`. */
export function anyValue(filters: Filters, key: string, test: (value: string) => boolean): boolean {
  const values = filters.get(key);
  return !values?.length || values.some(test);
}

/** `label=a` or `label=a=b` against a label map. */
export function matchLabel(labels: Record<string, string> | undefined, spec: string): boolean {
  const eq = spec.indexOf('=');
  if (eq < 0) return labels !== undefined && spec in labels;
  return labels?.[spec.slice(0, eq)] === spec.slice(eq + 1);
}

/** Every `label` value holds and no `label!` value does. */
export function matchLabels(filters: Filters, labels: Record<string, string> | undefined): boolean {
  return (filters.get('label') ?? []).every((s) => matchLabel(labels, s)) && !(filters.get('label!') ?? []).some((s) => matchLabel(labels, s));
}

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Docker's time arguments (`--since`, `--until`, `until=`): a Unix time in seconds (with an
 * optional fraction), a Go duration back from `now` (`10m`, `1h30m`), or an RFC 3339 date.
 * Returns nanoseconds since the epoch.
 */
export function parseDockerTime(v: string, now = Date.now()): number {
  if (/^\d+(\.\d+)?$/.test(v)) {
    const [s, frac = ''] = v.split('.');
    return Number(s) * 1e9 + Number((frac + '000000000').slice(0, 9));
  }
  if (/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(v)) {
    let ms = 0;
    for (const m of v.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(m[1]) * UNITS[m[2]!]!;
    return Math.round((now - ms) * 1e6);
  }
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid time: ${v}`);
  return t * 1e6;
}

/** The `until` filter as ms since the epoch, or undefined without one; one value at most. */
export function untilTime(filters: Filters, now = Date.now()): number | undefined {
  const values = filters.get('until');
  if (!values?.length) return undefined;
  if (values.length > 1) throw new TbuildError('TB_INVALID_ARGUMENT', 'more than one until filter specified');
  try {
    return parseDockerTime(values[0]!, now) / 1e6;
  } catch {
    throw new TbuildError('TB_INVALID_ARGUMENT', `invalid filter 'until=${values[0]}'`);
  }
}
