import { TbuildError } from '../errors.js';
import type { SourceRange } from './types.js';
import { withSuggestion } from './suggest.js';

/** How a flag takes its value: `--from=x`, `--link` / `--link=false`, or `--mount=…` repeated. */
export type FlagKind = 'string' | 'bool' | 'list';
export type FlagSpec = Record<string, FlagKind>;
export type FlagValues = Record<string, string | boolean | string[] | undefined>;

export interface Extracted {
  /** Flag words, unquoted, without the leading `--`. */
  flags: string[];
  /** The text after the flags. */
  rest: string;
}

const isSpace = (ch: string): boolean => ch === ' ' || ch === '\t' || ch === '\v' || ch === '\f' || ch === '\r' || ch === '\n';

/**
 * Takes the leading `--name[=value]` words off an instruction's arguments. Quotes and the escape
 * char inside a flag word are processed (`--chown="a b"`); a lone `--` ends the flags. Mirrors
 * BuildKit's `extractBuilderFlags`.
 */
export function extractFlags(line: string, escape: '\\' | '`' = '\\'): Extracted {
  const flags: string[] = [];
  let pos = 0;
  const n = line.length;
  for (;;) {
    while (pos < n && isSpace(line[pos]!)) pos++;
    if (pos >= n) return { flags, rest: '' };
    if (line[pos] !== '-' || line[pos + 1] !== '-') return { flags, rest: line.slice(pos) };
    let word = '';
    let quote = '';
    let blankOk = false;
    while (pos < n) {
      const ch = line[pos]!;
      if (quote) {
        if (ch === quote) quote = '';
        else if (ch === escape && pos + 1 < n) word += line[++pos];
        else if (ch !== escape) word += ch;
      } else if (isSpace(ch)) {
        break;
      } else if (ch === '"' || ch === "'") {
        quote = ch;
        blankOk = true;
      } else if (ch === escape) {
        if (pos + 1 < n) word += line[++pos];
      } else {
        word += ch;
      }
      pos++;
    }
    if (word === '--') {
      while (pos < n && isSpace(line[pos]!)) pos++;
      return { flags, rest: line.slice(pos) };
    }
    if (blankOk || word) flags.push(word.slice(2));
  }
}

/**
 * Validates flag words against an instruction's spec. Unknown names fail with TB_PARSE_BAD_FLAG
 * and a suggestion (`--mont` → `mount`); a string flag needs `=value`; a boolean takes nothing,
 * `true` or `false`; only list flags may repeat.
 */
export function parseFlags(
  words: readonly string[],
  spec: FlagSpec,
  instruction: string,
  where: { range: SourceRange; file?: string },
): FlagValues {
  const values: FlagValues = {};
  if (words.length === 0) return values;
  const bad = (msg: string, flag: string, suggestion?: string): TbuildError =>
    new TbuildError('TB_PARSE_BAD_FLAG', msg, { ...where, details: { flag, instruction, ...(suggestion ? { suggestion } : {}) } });
  for (const word of words) {
    const eq = word.indexOf('=');
    const name = eq < 0 ? word : word.slice(0, eq);
    const value = eq < 0 ? undefined : word.slice(eq + 1);
    const kind = spec[name];
    if (!kind) {
      const { message, suggestion } = withSuggestion(`unknown flag: --${name} for ${instruction}`, name, Object.keys(spec), true);
      throw bad(message, name, suggestion);
    }
    if (kind === 'list') {
      if (value === undefined) throw bad(`missing a value on flag: --${name}`, name);
      const list = (values[name] as string[] | undefined) ?? [];
      list.push(value);
      values[name] = list;
      continue;
    }
    if (values[name] !== undefined) throw bad(`duplicate flag specified: --${name}`, name);
    if (kind === 'bool') {
      if (value === undefined || value.toLowerCase() === 'true') values[name] = true;
      else if (value.toLowerCase() === 'false') values[name] = false;
      else throw bad(`expecting boolean value for flag --${name}, not: ${value}`, name);
    } else {
      if (value === undefined) throw bad(`missing a value on flag: --${name}`, name);
      values[name] = value;
    }
  }
  return values;
}
