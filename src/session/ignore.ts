import { IgnoreMatcher as PatternMatcher, parseDockerignore } from '../parser/dockerignore.js';
import type { IgnoreMatcher } from './types.js';

/**
 * A matcher over dockerignore-syntax patterns (`*`, `**`, `?`, `!` exceptions, last match wins,
 * a matched directory excludes everything below it). Used for COPY `--exclude`.
 */
export function compilePatterns(patterns: readonly string[]): IgnoreMatcher {
  const cleaned = parseDockerignore(patterns.join('\n'));
  return cleaned.length ? new PatternMatcher(cleaned) : NO_IGNORE;
}

export const NO_IGNORE: IgnoreMatcher = {
  matches: () => false,
  canSkipDir: () => false,
};
