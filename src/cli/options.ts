import { TbuildError } from '../errors.js';

/** Commander accumulator for repeatable options (`-t a -t b`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * `K=V` items into a record. With `fromEnv`, a bare `K` takes its value from the client's
 * environment and is left out when unset (Docker's `--build-arg K`); otherwise a bare `K` means ''.
 */
export function keyValues(list: readonly string[] | undefined, what: string, fromEnv: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list ?? []) {
    const i = item.indexOf('=');
    if (i === 0) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid ${what} ${JSON.stringify(item)}: empty key`);
    if (i === -1) {
      const v = fromEnv ? process.env[item] : '';
      if (v !== undefined) out[item] = v;
      continue;
    }
    out[item.slice(0, i)] = item.slice(i + 1);
  }
  return out;
}
