import { TbuildError, type ErrorCode } from '../../errors.js';
import type { CommandForm, Heredoc, SourceRange } from '../types.js';
import { parseFlags, type FlagSpec, type FlagValues } from '../flags.js';
import { splitWords } from '../shell/index.js';

/** What every instruction parser gets: one logical line, already split into keyword, flags and the rest. */
export interface InstrInput {
  /** The keyword as written. */
  keyword: string;
  /** Upper-case keyword. */
  name: string;
  /** Flag words without `--` (see `extractFlags`). */
  flags: string[];
  /** Text after the keyword and flags, trimmed. */
  rest: string;
  heredocs: Heredoc[];
  range: SourceRange;
  original: string;
  escape: '\\' | '`';
  file?: string;
}

export function fail(input: InstrInput, code: ErrorCode, message: string, details?: Record<string, unknown>): never {
  throw new TbuildError(code, message, {
    range: { ...input.range },
    file: input.file,
    details: { instruction: input.name, ...details },
  });
}

export function flagsOf(input: InstrInput, spec: FlagSpec): FlagValues {
  return parseFlags(input.flags, spec, input.name, { range: { ...input.range }, file: input.file });
}

export function base(input: InstrInput): { keyword: string; range: SourceRange; original: string } {
  return { keyword: input.keyword, range: { ...input.range }, original: input.original };
}

const NOT_STRINGS = 'when using JSON array syntax, arrays must be comprised of strings only';

/**
 * A JSON array of strings, or undefined when the text is not valid JSON array syntax (the caller
 * then falls back to the shell form, as Docker does). A valid array holding a non-string is an error.
 */
export function parseJSONArray(input: InstrInput, text: string): string[] | undefined {
  const t = text.trimStart();
  if (!t.startsWith('[')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(t);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  if (!parsed.every((x): x is string => typeof x === 'string')) fail(input, 'TB_PARSE_BAD_JSON', `${input.name}: ${NOT_STRINGS}`);
  return parsed;
}

/** Exec form when the text is a JSON string array, otherwise the shell form with the text as written. */
export function commandForm(input: InstrInput, text: string): CommandForm {
  const args = parseJSONArray(input, text);
  return args ? { type: 'exec', args } : { type: 'shell', command: text };
}

/** Splits on whitespace with no quote handling (BuildKit's parseStringsWhitespaceDelimited). */
export function whitespaceWords(text: string): string[] {
  const t = text.trim();
  return t ? t.split(/[ \t\v\f\r\n]+/) : [];
}

/** Quote-aware split that keeps quotes (for KEY=VALUE forms); escape token from the directive. */
export function quotedWords(input: InstrInput, text: string): string[] {
  try {
    return splitWords(text, { escape: input.escape });
  } catch (err) {
    if (err instanceof TbuildError) throw Object.assign(err, { range: err.range ?? { ...input.range }, file: err.file ?? input.file });
    return fail(input, 'TB_PARSE_BAD_ARGS', `${input.name}: cannot split arguments: ${(err as Error).message}`);
  }
}

export const atLeastOne = (input: InstrInput): never =>
  fail(input, 'TB_PARSE_BAD_ARGS', `${input.name} requires at least one argument`);
export const exactlyOne = (input: InstrInput): never =>
  fail(input, 'TB_PARSE_BAD_ARGS', `${input.name} requires exactly one argument`);
