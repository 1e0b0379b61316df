import { Pattern } from './pattern.js';

/**
 * Decides which context paths a .dockerignore excludes, exactly as the Docker CLI's context walker
 * does (moby/go-archive `TarWithOptions` over moby/patternmatcher):
 * - patterns apply in order and the last one that matches wins (`!` re-includes);
 * - a pattern that matches a directory matches everything below it;
 * - an excluded directory is not entered at all unless some `!` pattern starts with its path,
 *   so `!**\/x` cannot re-include files below an excluded `dir`, while `!dir/x` can.
 */
export class IgnoreMatcher {
  readonly #patterns: Pattern[];
  readonly #exclusions: boolean;
  /** Per-directory results: whether it is excluded and which patterns matched it or a parent. */
  readonly #dirs = new Map<string, { excluded: boolean; skip: boolean; info: boolean[] }>();

  constructor(patterns: string[]) {
    this.#patterns = patterns.filter((p) => p.trim() !== '').map((p) => new Pattern(p));
    this.#exclusions = this.#patterns.some((p) => p.exclusion);
  }

  get hasPatterns(): boolean {
    return this.#patterns.length > 0;
  }

  /** Whether any pattern is a `!` exception. */
  get hasExclusions(): boolean {
    return this.#exclusions;
  }

  /** The cleaned patterns, `!` kept, in order. */
  get patterns(): string[] {
    return this.#patterns.map((p) => (p.exclusion ? '!' + p.text : p.text));
  }

  /**
   * patternmatcher's MatchesOrParentMatches, without the walker's directory skipping: the path
   * or one of its parent directories matches, and no later exception un-matches it. BuildKit's
   * CopyIgnoredFile check uses this on COPY sources as written (no normalisation).
   */
  matchesOrParentMatches(path: string): boolean {
    const slash = path.lastIndexOf('/');
    const parents = slash <= 0 ? [] : path.slice(0, slash).split('/');
    let excluded = false;
    for (const pattern of this.#patterns) {
      if (pattern.exclusion !== excluded) continue;
      let match = pattern.match(path);
      for (let i = 0; !match && i < parents.length; i++) match = pattern.match(parents.slice(0, i + 1).join('/'));
      if (match) excluded = !pattern.exclusion;
    }
    return excluded;
  }

  /** True when `relPath` (slash-separated, relative to the context root) is left out of the context. */
  matches(relPath: string): boolean {
    const path = normalize(relPath);
    if (path === '' || !this.hasPatterns) return false;
    const slash = path.lastIndexOf('/');
    if (slash < 0) return this.#evaluate(path, undefined).excluded;
    const parent = this.#dir(path.slice(0, slash));
    if (parent.skip) return true;
    return this.#evaluate(path, parent.info).excluded;
  }

  /** True when `relDir` is excluded and no `!` pattern could re-include anything below it. */
  canSkipDir(relDir: string): boolean {
    const path = normalize(relDir);
    if (path === '' || !this.hasPatterns) return false;
    return this.#dir(path).skip;
  }

  #dir(path: string): { excluded: boolean; skip: boolean; info: boolean[] } {
    const cached = this.#dirs.get(path);
    if (cached) return cached;
    const slash = path.lastIndexOf('/');
    let result: { excluded: boolean; skip: boolean; info: boolean[] };
    const parent = slash < 0 ? undefined : this.#dir(path.slice(0, slash));
    if (parent?.skip) {
      result = { excluded: true, skip: true, info: parent.info };
    } else {
      const r = this.#evaluate(path, parent?.info);
      result = { ...r, skip: r.excluded && !this.#exceptionBelow(path) };
    }
    this.#dirs.set(path, result);
    return result;
  }

  #exceptionBelow(dir: string): boolean {
    if (!this.#exclusions) return false;
    const prefix = dir + '/';
    return this.#patterns.some((p) => p.exclusion && (p.text + '/').startsWith(prefix));
  }

  /**
   * patternmatcher's MatchesUsingParentResults: a pattern that matched the parent directory
   * matches the child; without parent results (top level) only the path itself is tried.
   */
  #evaluate(path: string, parentInfo: boolean[] | undefined): { excluded: boolean; info: boolean[] } {
    let excluded = false;
    const info = new Array<boolean>(this.#patterns.length).fill(false);
    this.#patterns.forEach((pattern, i) => {
      let match = parentInfo?.[i] ?? false;
      if (!match) {
        // An include pattern cannot change an excluded path, nor an exception an included one.
        if (pattern.exclusion !== excluded) return;
        match = pattern.match(path);
      }
      info[i] = match;
      if (match) excluded = !pattern.exclusion;
    });
    return { excluded, info };
  }
}

function normalize(p: string): string {
  let s = p.replace(/\/+/g, '/');
  while (s.startsWith('./')) s = s.slice(2);
  if (s.startsWith('/')) s = s.slice(1);
  if (s.endsWith('/')) s = s.slice(0, -1);
  return s === '.' ? '' : s;
}
