import { TbuildError } from '../../errors.js';
import { replacePattern, trimPrefix, trimSuffix } from './pattern.js';

export type Lookup = (name: string) => string | undefined;

/** Go's `unicode.IsSpace`: JavaScript's `\s` plus NEL, minus the BOM. */
export function isSpace(ch: string): boolean {
  const c = ch.charCodeAt(0);
  if (c < 0x80) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  return ch !== '\ufeff' && /^[\s\u0085]$/u.test(ch);
}
// ASCII first: names are almost always ASCII, and the Unicode property regexps are slow
const isLetter = (ch: string): boolean => {
  const c = ch.charCodeAt(0);
  if (c < 0x80) return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
  return /^\p{L}$/u.test(ch);
};
const isDigit = (ch: string): boolean => {
  const c = ch.charCodeAt(0);
  if (c < 0x80) return c >= 0x30 && c <= 0x39;
  return /^\p{Nd}$/u.test(ch);
};
/** POSIX special parameters: never set in a Dockerfile, so they expand to nothing. */
const SPECIAL_PARAMS = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);

/** A syntax error inside the word; `process` wraps it with the word, as BuildKit does. */
class LexError extends Error {
  constructor(
    message: string,
    readonly required = false,
  ) {
    super(message);
  }
}

/**
 * Collects the words of `expandWords`: text from variable expansion outside quotes is split on
 * whitespace; quoted text and escaped characters are never split.
 */
class Words {
  readonly words: string[] = [];
  #buf = '';
  #inWord = false;

  addChar(ch: string): void {
    if (isSpace(ch)) {
      if (this.#inWord) this.#flush();
    } else {
      this.addRaw(ch);
    }
  }
  addString(s: string): void {
    for (const ch of s) this.addChar(ch);
  }
  addRaw(s: string): void {
    this.#buf += s;
    this.#inWord = true;
  }
  finish(): string[] {
    if (this.#inWord) this.#flush();
    return this.words;
  }
  #flush(): void {
    // As BuildKit: a word that only held quotes (`""`) or an empty expansion is not a word.
    if (this.#buf !== '') this.words.push(this.#buf);
    this.#buf = '';
    this.#inWord = false;
  }
}

const EOF = undefined;

/**
 * One pass over one word, following BuildKit's `shell.Lex`: a recursive-descent scanner over code
 * points where `${...}` operands are scanned by re-entering `processStopOn` with a stop character.
 */
export class Lexer {
  readonly matched = new Set<string>();
  readonly unmatched = new Set<string>();
  #chars: string[];
  #pos = 0;
  #rawEscapes = false;
  readonly #escape: string;
  readonly #lookup: Lookup;

  constructor(word: string, lookup: Lookup, escape: '\\' | '`' = '\\') {
    this.#chars = Array.from(word);
    this.#lookup = lookup;
    this.#escape = escape;
  }

  /** Expand the whole word: the joined result and the split words. */
  process(source: string): { result: string; words: string[] } {
    try {
      return this.#processStopOn(EOF, false);
    } catch (err) {
      if (err instanceof LexError) {
        throw new TbuildError(
          err.required ? 'TB_EXPAND_REQUIRED' : 'TB_EXPAND',
          `failed to process ${JSON.stringify(source)}: ${err.message}`,
          { details: { word: source, reason: err.message } },
        );
      }
      throw err;
    }
  }

  #peek(): string | undefined {
    return this.#chars[this.#pos];
  }
  #next(): string | undefined {
    return this.#chars[this.#pos++];
  }

  #processStopOn(stop: string | undefined, rawEscapes: boolean): { result: string; words: string[] } {
    const saved = this.#rawEscapes;
    this.#rawEscapes = rawEscapes;
    try {
      let result = '';
      const words = new Words();
      for (let ch = this.#peek(); ch !== EOF; ch = this.#peek()) {
        if (stop !== EOF && ch === stop) {
          this.#next();
          return { result, words: words.finish() };
        }
        if (ch === '$') {
          const v = this.#processDollar();
          result += v;
          words.addString(v);
        } else if (ch === "'" || ch === '"') {
          const v = ch === "'" ? this.#processSingleQuote() : this.#processDoubleQuote();
          result += v;
          words.addRaw(v);
        } else if (ch === '<') {
          const v = this.#processPossibleHeredoc();
          result += v;
          words.addRaw(v);
        } else {
          this.#next();
          if (ch === this.#escape) {
            if (this.#rawEscapes) {
              words.addRaw(ch);
              result += ch;
            }
            const escaped = this.#next();
            // a trailing escape char is dropped
            if (escaped === EOF) break;
            words.addRaw(escaped);
            result += escaped;
          } else {
            words.addChar(ch);
            result += ch;
          }
        }
      }
      if (stop !== EOF) throw new LexError(`unexpected end of statement while looking for matching ${stop}`);
      return { result, words: words.finish() };
    } finally {
      this.#rawEscapes = saved;
    }
  }

  #processSingleQuote(): string {
    this.#next();
    let result = '';
    for (;;) {
      const ch = this.#next();
      if (ch === EOF) throw new LexError('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") return result;
      result += ch;
    }
  }

  #processDoubleQuote(): string {
    this.#next();
    let result = '';
    for (;;) {
      const peek = this.#peek();
      if (peek === EOF) throw new LexError('unexpected end of statement while looking for matching double-quote');
      if (peek === '"') {
        this.#next();
        return result;
      }
      if (peek === '$') {
        result += this.#processDollar();
        continue;
      }
      let ch = this.#next()!;
      if (ch === this.#escape) {
        if (this.#rawEscapes) result += ch;
        const after = this.#peek();
        if (after === EOF) continue;
        // Only `"`, `$` and the escape char itself can be escaped; otherwise the escape is literal.
        if (after === '"' || after === '$' || after === this.#escape) ch = this.#next()!;
      }
      result += ch;
    }
  }

  /** `<<` followed by blanks stays glued to the heredoc word that follows. */
  #processPossibleHeredoc(): string {
    this.#next();
    if (this.#peek() !== '<') return '<';
    this.#next();
    let result = '<<';
    for (let ch = this.#peek(); ch === ' ' || ch === '\t' || ch === '\r'; ch = this.#peek()) {
      result += ch;
      this.#next();
    }
    return result;
  }

  #getEnv(name: string): string | undefined {
    const v = this.#lookup(name);
    if (v === undefined) this.unmatched.add(name);
    else this.matched.add(name);
    return v;
  }

  #processDollar(): string {
    this.#next();
    if (this.#peek() !== '{') {
      const name = this.#processName();
      if (name === '') return '$';
      return this.#getEnv(name) ?? '';
    }
    this.#next();
    const first = this.#peek();
    if (first === EOF) throw new LexError("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new LexError('syntax error: bad substitution');
    const name = this.#processName();
    let ch = this.#next();
    if (ch === EOF) throw new LexError("syntax error: missing '}'");
    let modifier = ch;
    switch (ch) {
      case '}':
        return this.#getEnv(name) ?? '';
      case ':':
      case '+':
      case '-':
      case '?':
      case '#':
      case '%': {
        const nullIsUnset = ch === ':';
        if (nullIsUnset) {
          ch = this.#next();
          modifier += ch ?? '';
        }
        const isPattern = ch === '#' || ch === '%';
        if (nullIsUnset && (isPattern || !['+', '-', '?'].includes(ch ?? ''))) {
          throw new LexError(`unsupported modifier (${modifier}) in substitution`);
        }
        let word: string;
        try {
          word = this.#processStopOn('}', isPattern).result;
        } catch (err) {
          if (this.#peek() === EOF && err instanceof LexError && !err.required) {
            throw new LexError("syntax error: missing '}'");
          }
          throw err;
        }
        const value = this.#getEnv(name);
        const empty = value === undefined || (nullIsUnset && value === '');
        switch (ch) {
          case '-':
            return empty ? word : value!;
          case '+':
            return empty ? '' : word;
          case '?':
            if (value === undefined) throw new LexError(`${name}: ${word || 'is not allowed to be unset'}`, true);
            if (empty) throw new LexError(`${name}: ${word || 'is not allowed to be empty'}`, true);
            return value;
          default: {
            // `##` / `%%` take the longest match
            const greedy = word.startsWith(ch!);
            const pattern = greedy ? word.slice(1) : word;
            return ch === '%' ? trimSuffix(pattern, value ?? '', greedy) : trimPrefix(pattern, value ?? '', greedy);
          }
        }
      }
      case '/': {
        const all = this.#peek() === '/';
        if (all) this.#next();
        let pattern: string;
        try {
          pattern = this.#processStopOn('/', true).result;
        } catch (err) {
          if (this.#peek() === EOF && err instanceof LexError && !err.required) {
            throw new LexError("syntax error: missing '/' in ${}");
          }
          throw err;
        }
        let replacement: string;
        try {
          replacement = this.#processStopOn('}', true).result;
        } catch (err) {
          if (this.#peek() === EOF && err instanceof LexError && !err.required) {
            throw new LexError("syntax error: missing '}'");
          }
          throw err;
        }
        const value = this.#getEnv(name) ?? '';
        return replacePattern(value, pattern, replacement, all);
      }
      default:
        throw new LexError(`unsupported modifier (${modifier}) in substitution`);
    }
  }

  /** A name: letters, digits and `_`; or a run of digits (positional); or one special parameter. */
  #processName(): string {
    let name = '';
    for (let ch = this.#peek(); ch !== EOF; ch = this.#peek()) {
      if (name === '' && isDigit(ch)) {
        while (this.#peek() !== EOF && isDigit(this.#peek()!)) name += this.#next();
        return name;
      }
      if (name === '' && SPECIAL_PARAMS.has(ch)) {
        this.#next();
        return ch;
      }
      if (!isLetter(ch) && !isDigit(ch) && ch !== '_') break;
      name += this.#next();
    }
    return name;
  }
}
