import { TbuildError } from '../../errors.js';

/**
 * moby turns `\x` in a pattern into the regexp escape `\x`, so what an escape means is what Go's
 * RE2 makes of it: punctuation is literal, `\t`/`\n`… are control characters, `\d`/`\s`/`\w` are
 * ASCII classes, `\b`/`\A`/`\z` assertions, `\x41`/`\101` character codes, `\pL` Unicode classes,
 * and anything else (`\u`, `\c`, a Windows path like `src\util`) makes the pattern invalid, which
 * the Docker CLI reports as "syntax error in pattern". Returns the JavaScript (unicode-mode)
 * regexp text and how many pattern chars after the backslash it used.
 */
export function translateEscape(
  chars: readonly string[],
  at: number,
  inClass: boolean,
  pattern: string,
): { source: string; used: number; unanchored?: boolean } {
  const bad = (): never => {
    throw new TbuildError('TB_DOCKERIGNORE', `syntax error in pattern: ${pattern}`);
  };
  const c = chars[at]!;
  const code = (n: number): string => `\\u{${n.toString(16)}}`;
  if (!/^[A-Za-z0-9]$/.test(c)) return { source: code(c.codePointAt(0)!), used: 1 };
  const CONTROL: Record<string, number> = { a: 7, f: 12, t: 9, n: 10, r: 13, v: 11 };
  if (c in CONTROL) return { source: code(CONTROL[c]!), used: 1 };
  const CLASS_IN: Record<string, string> = { d: '0-9', s: '\\t\\n\\f\\r ', w: '0-9A-Za-z_' };
  if (c in CLASS_IN) return { source: inClass ? CLASS_IN[c]! : `[${CLASS_IN[c]}]`, used: 1 };
  const NEG: Record<string, string> = { D: 'd', S: 's', W: 'w' };
  if (c in NEG) {
    if (inClass) bad(); // a negated class inside a class has no JavaScript equivalent
    return { source: `[^${CLASS_IN[NEG[c]!]}]`, used: 1 };
  }
  if (!inClass && (c === 'b' || c === 'B')) return { source: '\\' + c, used: 1 };
  if (!inClass && c === 'A') return { source: '^', used: 1 };
  if (!inClass && c === 'z') return { source: '$', used: 1 };
  if (c === 'x') {
    const rest = chars.slice(at + 1).join('');
    const braced = /^\{([0-9A-Fa-f]+)\}/.exec(rest);
    if (braced) return { source: code(parseInt(braced[1]!, 16)), used: 1 + braced[0].length };
    const two = /^[0-9A-Fa-f]{2}/.exec(rest);
    if (two) return { source: code(parseInt(two[0], 16)), used: 3 };
    return bad();
  }
  if (/^[0-7]$/.test(c)) {
    // `\1`…`\7` alone would be a backreference, which RE2 rejects; with more octal digits it is a code
    const digits = /^[0-7]{0,2}/.exec(chars.slice(at + 1).join(''))![0];
    if (c !== '0' && digits === '') bad();
    return { source: code(parseInt(c + digits, 8)), used: 1 + digits.length };
  }
  if (c === 'Q' && !inClass) {
    // RE2 quotes everything up to `\E`; without one, even the `$` moby appends becomes literal,
    // so the pattern is then only a prefix match of the quoted text plus a dollar sign
    const rest = chars.slice(at + 1).join('');
    const end = rest.indexOf('\\E');
    const quoted = end < 0 ? rest + '$' : rest.slice(0, end);
    const lit = Array.from(quoted).map((ch) => code(ch.codePointAt(0)!)).join('');
    return end < 0 ? { source: lit, used: 1 + rest.length, unanchored: true } : { source: lit, used: 1 + end + 2 };
  }
  if (c === 'p' || c === 'P') {
    const rest = chars.slice(at + 1).join('');
    const m = /^\{\^?([A-Za-z_]+)\}/.exec(rest) ?? /^([A-Za-z])/.exec(rest);
    if (!m) return bad();
    const negate = (c === 'P') !== m[0].startsWith('{^');
    try {
      new RegExp(`\\p{${m[1]}}`, 'u');
    } catch {
      bad();
    }
    return { source: `\\${negate ? 'P' : 'p'}{${m[1]}}`, used: 1 + m[0].length };
  }
  return bad();
}
