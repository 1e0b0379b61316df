import type { ArgDecl, ArgInstruction, EnvInstruction, KeyValue, LabelInstruction } from '../types.js';
import { atLeastOne, base, fail, flagsOf, quotedWords, type InstrInput } from './common.js';

/**
 * `KEY=value …` pairs, or the legacy `KEY value with spaces` form when the first word has no `=`
 * (BuildKit's parseNameVal). Keys and values are kept as written: the solver expands both.
 */
function nameValues(input: InstrInput): { pairs: KeyValue[]; legacy: boolean } {
  const words = quotedWords(input, input.rest);
  if (words.length === 0) atLeastOne(input);
  if (!words[0]!.includes('=')) {
    const m = /^(\S+)[ \t\v\f\r]+([\s\S]*)$/.exec(input.rest);
    if (!m || !m[2]) fail(input, 'TB_PARSE_BAD_ARGS', `${input.name} must have two arguments: ${input.name} ${words[0]} <value>`);
    return { pairs: [{ key: m[1]!, value: m[2]! }], legacy: true };
  }
  const pairs = words.map((word) => {
    const eq = word.indexOf('=');
    if (eq < 0) fail(input, 'TB_PARSE_BAD_ARGS', `Syntax error - can't find = in "${word}". Must be of the form: name=value`);
    return { key: word.slice(0, eq), value: word.slice(eq + 1) };
  });
  for (const p of pairs) if (!p.key) fail(input, 'TB_PARSE_BAD_ARGS', `${input.name} names can not be blank`);
  return { pairs, legacy: false };
}

export function parseEnv(input: InstrInput): EnvInstruction {
  flagsOf(input, {});
  return { kind: 'ENV', ...base(input), ...nameValues(input) };
}

export function parseLabel(input: InstrInput): LabelInstruction {
  flagsOf(input, {});
  return { kind: 'LABEL', ...base(input), ...nameValues(input) };
}

export function parseArg(input: InstrInput): ArgInstruction {
  flagsOf(input, {});
  const words = quotedWords(input, input.rest);
  if (words.length === 0) atLeastOne(input);
  const args = words.map((word): ArgDecl => {
    const eq = word.indexOf('=');
    if (eq < 0) return { key: word };
    if (eq === 0) fail(input, 'TB_PARSE_BAD_ARGS', `ARG names can not be blank: "${word}"`);
    return { key: word.slice(0, eq), default: word.slice(eq + 1) };
  });
  return { kind: 'ARG', ...base(input), args };
}
