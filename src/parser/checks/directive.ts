import { TbuildError } from '../../errors.js';

export interface CheckConfig {
  /** Rules to skip, or every (non-experimental) rule. */
  skip: Set<string> | 'all';
  /** `error=true`: any finding fails the build. */
  error: boolean;
  /** Experimental rules to run, or all of them. */
  experimental: Set<string> | 'all';
}

const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/**
 * The value of `# check=` (or the BUILDKIT_DOCKERFILE_CHECK build arg), as BuildKit reads it:
 * up to three `;`-separated `key=value` options among `skip=A,B|all`, `error=<bool>`,
 * `experimental=A,B|all`. Anything else is a TB_PARSE_DIRECTIVE error.
 */
export function parseCheckDirective(value?: string): CheckConfig {
  const config: CheckConfig = { skip: new Set(), error: false, experimental: new Set() };
  const text = (value ?? '').trim();
  if (text === '') return config;
  // Go's SplitN(…, 3): a third part keeps any further `;`
  const parts = text.split(';');
  const options = parts.length > 3 ? [...parts.slice(0, 2), parts.slice(2).join(';')] : parts;
  for (const part of options) {
    const eq = part.indexOf('=');
    if (eq < 0) throw new TbuildError('TB_PARSE_DIRECTIVE', `invalid check option "${part}"`, { details: { check: text } });
    const key = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    const list = (): Set<string> | 'all' => (v === 'all' ? 'all' : new Set(v.split(',').map((r) => r.trim())));
    if (key === 'skip') config.skip = list();
    else if (key === 'experimental') config.experimental = list();
    else if (key === 'error') {
      if (TRUE.has(v)) config.error = true;
      else if (FALSE.has(v)) config.error = false;
      else throw new TbuildError('TB_PARSE_DIRECTIVE', `failed to parse check option "${part}": invalid boolean "${v}"`, { details: { check: text } });
    } else {
      throw new TbuildError('TB_PARSE_DIRECTIVE', `invalid check option "${key}"`, { details: { check: text } });
    }
  }
  return config;
}

/** Merge a per-instruction `# check=` comment into the file-level configuration (skips add up). */
export function mergeConfig(base: CheckConfig, extra: CheckConfig): CheckConfig {
  const union = (a: Set<string> | 'all', b: Set<string> | 'all'): Set<string> | 'all' =>
    a === 'all' || b === 'all' ? 'all' : new Set([...a, ...b]);
  return {
    skip: union(base.skip, extra.skip),
    // BuildKit merges only skips and experiments from comments; error= is file-wide
    error: base.error,
    experimental: union(base.experimental, extra.experimental),
  };
}

/** Whether a rule runs under a configuration. */
export function ruleEnabled(config: CheckConfig, name: string, experimental: boolean): boolean {
  if (experimental) return config.experimental === 'all' || config.experimental.has(name);
  return !(config.skip === 'all' || config.skip.has(name));
}
