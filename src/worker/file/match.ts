import { TbuildError } from '../../errors.js';

/**
 * Go's `filepath.Match` for one path component, which is what BuildKit resolves COPY wildcards
 * with: `*` (any run of non-`/`), `?` (one non-`/`), `[a-z]` / `[^a-z]` classes, `\` escapes.
 * `**` is not special (it behaves like `*`). Dot files are matched like any other name.
 */

const cache = new Map<string, RegExp>();

/** True when `s` holds an unescaped `*`, `?` or `[` (BuildKit's `containsWildcards`). */
export function hasWildcard(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') i++;
    else if (c === '*' || c === '?' || c === '[') return true;
  }
  return false;
}

/** Remove `\` escapes from a component that has no wildcard. */
export function unescapeComponent(s: string): string {
  return s.replace(/\\(.)/g, '$1');
}

/** Match one component name against one pattern component. Throws TB_INVALID_ARGUMENT on a malformed pattern. */
export function matchComponent(pattern: string, name: string): boolean {
  let re = cache.get(pattern);
  if (!re) {
    re = compile(pattern);
    if (cache.size > 1000) cache.clear();
    cache.set(pattern, re);
  }
  return re.test(name);
}

/**
 * Regex escapes valid under the `u` flag, which rejects escapes it does not need: `-` may be
 * escaped inside a class only (`code-server*.deb` must compile).
 */
function escapeRe(c: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(c) ? '\\' + c : c;
}

function escapeClassChar(c: string): string {
  return /[\\^\]\[-]/.test(c) ? '\\' + c : c;
}

function bad(pattern: string): TbuildError {
  return new TbuildError('TB_INVALID_ARGUMENT', `syntax error in pattern ${JSON.stringify(pattern)}`);
}

function compile(pattern: string): RegExp {
  let out = '^';
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (c === '*') {
      out += '[^/]*';
      i++;
    } else if (c === '?') {
      out += '[^/]';
      i++;
    } else if (c === '\\') {
      if (i + 1 >= pattern.length) throw bad(pattern);
      out += escapeRe(pattern[i + 1]!);
      i += 2;
    } else if (c === '[') {
      i++;
      let cls = '[';
      if (pattern[i] === '^') {
        cls += '^';
        i++;
      }
      let n = 0;
      for (;;) {
        if (i >= pattern.length) throw bad(pattern);
        if (pattern[i] === ']' && n > 0) {
          i++;
          break;
        }
        const lo = readClassChar(pattern, i);
        i = lo.next;
        if (pattern[i] === '-' && pattern[i + 1] !== ']') {
          const hi = readClassChar(pattern, i + 1);
          if (hi.ch < lo.ch) throw bad(pattern);
          cls += escapeClassChar(lo.ch) + '-' + escapeClassChar(hi.ch);
          i = hi.next;
        } else {
          cls += escapeClassChar(lo.ch);
        }
        n++;
      }
      // Go classes never match the separator, negated ones included.
      out += cls.startsWith('[^') ? cls + '/]' : cls + ']';
    } else {
      out += escapeRe(c);
      i++;
    }
  }
  return new RegExp(out + '$', 'u');
}

function readClassChar(pattern: string, i: number): { ch: string; next: number } {
  let c = pattern[i];
  if (c === undefined || c === ']' || c === '-') throw bad(pattern);
  if (c === '\\') {
    i++;
    c = pattern[i];
    if (c === undefined) throw bad(pattern);
  }
  const cp = pattern.codePointAt(i)!;
  const ch = String.fromCodePoint(cp);
  return { ch, next: i + ch.length };
}
