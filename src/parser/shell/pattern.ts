import { TbuildError } from '../../errors.js';

/**
 * Shell patterns of `${v#p}`, `${v%p}` and `${v/p/r}` as BuildKit reads them: `*` and `?` are
 * wildcards, `\` escapes `*`, `?` and `\` (and, silently, the `}` and `/` that would otherwise end
 * the expansion). Bracket expressions are NOT supported: `[` is literal, as in BuildKit.
 */
export function patternToRegExp(pattern: string, greedy: boolean, anchored: boolean): RegExp {
  const chars = Array.from(pattern);
  let out = anchored ? '^' : '';
  const star = greedy ? '.*' : '.*?';
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '*') {
      out += star;
    } else if (c === '?') {
      out += '.';
    } else if (c === '\\') {
      const next = chars[i + 1];
      if (next === '}' || next === '/') continue;
      if (next !== '*' && next !== '?' && next !== '\\') {
        throw new TbuildError('TB_EXPAND', `invalid pattern (${pattern}) in substitution: invalid escape '\\${next ?? ''}'`);
      }
      out += '\\' + next;
      i++;
    } else if ('[]{}.+()|^$'.includes(c)) {
      out += '\\' + c;
    } else {
      out += c;
    }
  }
  return new RegExp(out, 'u');
}

/** Reverse a pattern keeping each `\x` escape pair in order, so a suffix search becomes a prefix search. */
function reversePattern(pattern: string): string {
  const chars = Array.from(pattern);
  const out: string[] = new Array<string>(chars.length);
  const last = chars.length - 1;
  for (let i = 0; i <= last; ) {
    const at = last - i;
    if (chars[i] === '\\' && i !== last) {
      out[at - 1] = '\\';
      out[at] = chars[i + 1]!;
      i += 2;
    } else {
      out[at] = chars[i]!;
      i++;
    }
  }
  return out.join('');
}

const reverse = (s: string): string => Array.from(s).reverse().join('');

/** `${v#p}` (shortest) / `${v##p}` (longest). */
export function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const m = patternToRegExp(pattern, greedy, true).exec(value);
  return m ? value.slice(m[0].length) : value;
}

/** `${v%p}` / `${v%%p}`: regular expressions find leftmost matches, so search the reversed string. */
export function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  return reverse(trimPrefix(reversePattern(pattern), reverse(value), greedy));
}

/** `${v/p/r}` (first match) and `${v//p/r}` (every match), with Go's regexp replacement rules. */
export function replacePattern(value: string, pattern: string, replacement: string, all: boolean): string {
  const re = patternToRegExp(pattern, true, false);
  if (!all) {
    const m = re.exec(value);
    return m ? value.slice(0, m.index) + replacement + value.slice(m.index + m[0].length) : value;
  }
  const global = new RegExp(re.source, 'gu');
  let out = '';
  let last = 0;
  let prevEnd = -1;
  for (let m = global.exec(value); m; m = global.exec(value)) {
    const end = m.index + m[0].length;
    if (m[0].length === 0) {
      // Go ignores an empty match right after a previous match; advance by one code point.
      global.lastIndex = m.index + (value.codePointAt(m.index)! > 0xffff ? 2 : 1);
      if (m.index === prevEnd) continue;
    }
    out += value.slice(last, m.index) + expandTemplate(replacement, m[0]);
    last = end;
    prevEnd = end;
    if (m.index >= value.length) break;
  }
  return out + value.slice(last);
}

/**
 * Go's `Regexp.Expand` as used by `ReplaceAllString`: `$$` is a dollar, `$0`/`${0}` the match,
 * any other group reference is empty (our patterns have no groups), a malformed `$` stays literal.
 */
function expandTemplate(template: string, match: string): string {
  if (!template.includes('$')) return template;
  let out = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    if (c !== '$') {
      out += c;
      continue;
    }
    const rest = template.slice(i + 1);
    if (rest.startsWith('$')) {
      out += '$';
      i++;
      continue;
    }
    const m = /^\{([A-Za-z0-9_]+)\}/.exec(rest) ?? /^([A-Za-z0-9_]+)/.exec(rest);
    if (!m) {
      out += '$';
      continue;
    }
    const name = m[1]!;
    if (/^[0-9]+$/.test(name) && Number(name) === 0) out += match;
    i += m[0].length;
  }
  return out;
}
