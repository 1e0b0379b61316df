/**
 * Shell-style word processing for Dockerfile arguments, with BuildKit's semantics
 * (`frontend/dockerfile/shell`): quotes, the escape char, `$v`/`${v}` and the `${v<op>w}` forms.
 * Unset variables expand to nothing. Syntax errors throw `TB_EXPAND`; `${v?msg}` throws
 * `TB_EXPAND_REQUIRED`.
 */
import { Lexer, type Lookup } from './lexer.js';
import { splitWords as split } from './split.js';

export type { Lookup };

export interface ShellOptions {
  /** The Dockerfile's escape char (`# escape=` directive); `\` by default. */
  escape?: '\\' | '`';
}

/** Expand one word: quotes removed, variables expanded, whitespace kept (`ProcessWord`). */
export function expandWord(word: string, lookup: Lookup, opts: ShellOptions = {}): string {
  return new Lexer(word, lookup, opts.escape).process(word).result;
}

/**
 * Expand, then split on unquoted whitespace (`ProcessWords`). Whitespace produced by an unquoted
 * expansion splits; quoted text never does. A word made only of quotes (`""`) stays as `''`.
 */
export function expandWords(word: string, lookup: Lookup, opts: ShellOptions = {}): string[] {
  return new Lexer(word, lookup, opts.escape).process(word).words;
}

/** `expandWord` plus the names that were looked up and found (`matched`) or not (`unmatched`). */
export function expandWordTracking(
  word: string,
  lookup: Lookup,
  opts: ShellOptions = {},
): { result: string; matched: Set<string>; unmatched: Set<string> } {
  const lexer = new Lexer(word, lookup, opts.escape);
  const { result } = lexer.process(word);
  return { result, matched: lexer.matched, unmatched: lexer.unmatched };
}

/** Split raw text into words on unquoted whitespace, keeping quotes and escapes (no expansion). */
export function splitWords(text: string, opts: ShellOptions = {}): string[] {
  return split(text, opts.escape);
}

/** A `Lookup` over a plain record or map (own keys only). */
export function lookupFrom(env: Record<string, string> | Map<string, string | undefined>): Lookup {
  if (env instanceof Map) return (name) => env.get(name);
  return (name) => (Object.prototype.hasOwnProperty.call(env, name) ? env[name] : undefined);
}
