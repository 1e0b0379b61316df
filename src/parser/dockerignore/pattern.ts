import { TbuildError } from '../../errors.js';
import { cleanPath } from './clean.js';
import { translateEscape } from './escape.js';

type MatchType = 'exact' | 'prefix' | 'suffix' | 'regexp';

/**
 * One .dockerignore pattern, matched the way moby/patternmatcher does: `*` and `?` never cross
 * `/`, `**` crosses any number of directories, `[...]` is a character class, `\` escapes. Simple
 * patterns are compared as strings (exact, `dir/**` prefix, `**\/name` suffix), as moby does, which
 * matters for corner cases like `**foo` matching `xfoo`.
 */
export class Pattern {
  readonly exclusion: boolean;
  /** The cleaned pattern without its `!`. */
  readonly text: string;
  readonly #type: MatchType;
  readonly #re?: RegExp;
  readonly #error?: TbuildError;

  constructor(raw: string) {
    let p = cleanPath(raw.trim());
    this.exclusion = p.startsWith('!');
    if (this.exclusion) {
      if (p.length === 1) throw new TbuildError('TB_DOCKERIGNORE', 'illegal exclusion pattern: "!"');
      p = p.slice(1);
    }
    validateGlob(p);
    this.text = p;
    // Like moby, a pattern that passes filepath.Match's check but makes a bad regexp only fails
    // when it is first used: an exception nobody reaches never errors.
    try {
      const { type, source } = compile(p);
      this.#type = type;
      if (type === 'regexp') this.#re = new RegExp(source, 'u');
    } catch (err) {
      this.#type = 'regexp';
      this.#error = err instanceof TbuildError ? err : new TbuildError('TB_DOCKERIGNORE', `syntax error in pattern: ${p}`, { cause: err });
    }
  }

  /** Throws TB_DOCKERIGNORE when the pattern turned out invalid. */
  match(path: string): boolean {
    if (this.#error) throw this.#error;
    switch (this.#type) {
      case 'exact':
        return path === this.text;
      case 'prefix':
        return path.startsWith(this.text.slice(0, -2));
      case 'suffix': {
        const suffix = this.text.slice(2);
        if (path.endsWith(suffix)) return true;
        // `**/foo` also matches `foo` itself
        return suffix.startsWith('/') && path === suffix.slice(1);
      }
      case 'regexp':
        return this.#re!.test(path);
    }
  }
}

const REGEXP_SPECIAL = new Set(['.', '+', '(', ')', '|', '{', '}', '$']);

function compile(pattern: string): { type: MatchType; source: string } {
  const chars = Array.from(pattern);
  let source = '^';
  let type: MatchType = 'exact';
  let inClass = false;
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (inClass && ch !== '\\' && ch !== ']') {
      // Inside a class every char is literal, as in filepath.Match. (moby's translator would emit
      // `[^/]*` for a `*` here, a regexp JavaScript cannot even parse; nobody relies on it.)
      source += REGEXP_SPECIAL.has(ch) || ch === '[' ? '\\' + ch : ch;
    } else if (ch === '*') {
      if (chars[i + 1] === '*') {
        const start = i;
        i++;
        // `**/` is the same as `**`
        if (chars[i + 1] === '/') i++;
        if (i + 1 >= chars.length) {
          // trailing `**` accepts everything below, like .gitignore
          if (type === 'exact') type = 'prefix';
          else {
            source += '.*';
            type = 'regexp';
          }
        } else {
          source += '(.*/)?';
          type = 'regexp';
        }
        if (start === 0) type = 'suffix';
      } else {
        source += '[^/]*';
        type = 'regexp';
      }
    } else if (ch === '?') {
      source += '[^/]';
      type = 'regexp';
    } else if (REGEXP_SPECIAL.has(ch)) {
      source += '\\' + ch;
    } else if (ch === '\\') {
      if (i + 1 >= chars.length) {
        source += '\\\\';
      } else {
        const t = translateEscape(chars, i + 1, inClass, pattern);
        source += t.source;
        i += t.used;
        type = 'regexp';
        if (t.unanchored) return { type, source };
      }
    } else if (ch === '[' || ch === ']') {
      // a `]` outside a class is literal (Go), but JavaScript's unicode mode rejects it bare
      source += ch === ']' && !inClass ? '\\]' : ch;
      inClass = ch === '[';
      type = 'regexp';
    } else {
      source += ch;
    }
  }
  // moby's `**`-first quirk: a later wildcard turns a suffix pattern into a regexp
  if (type === 'regexp') source += '$';
  return { type, source };
}

/**
 * The syntax check Go's `filepath.Match` applies (moby rejects patterns it calls malformed):
 * unterminated `[`, an empty class, `-`/`]` where a class char is due, a trailing `\`.
 */
function validateGlob(pattern: string): void {
  const bad = (): never => {
    throw new TbuildError('TB_DOCKERIGNORE', `syntax error in pattern: ${pattern}`);
  };
  const chars = Array.from(pattern);
  let i = 0;
  const classChar = (): string => {
    const c = chars[i];
    if (c === undefined || c === '-' || c === ']') bad();
    i++;
    if (c === '\\') {
      const e = chars[i];
      if (e === undefined) bad();
      i++;
      return e!;
    }
    return c!;
  };
  while (i < chars.length) {
    const c = chars[i]!;
    if (c === '\\') {
      if (i + 1 >= chars.length) bad();
      i += 2;
    } else if (c === '[') {
      i++;
      if (chars[i] === '^') i++;
      let n = 0;
      for (;;) {
        if (chars[i] === ']' && n > 0) {
          i++;
          break;
        }
        classChar();
        if (chars[i] === '-') {
          i++;
          // a reversed range passes here; the regexp rejects it when the pattern is first used
          classChar();
        }
        n++;
      }
    } else {
      i++;
    }
  }
}
