import type { Heredoc, Instruction, OnbuildInstruction, SourceRange } from '../types.js';
import { atLeastOne, base, fail, flagsOf, type InstrInput } from './common.js';

/** Parses the trigger line; given by parse.ts so this file does not import the dispatch table. */
export type LineParser = (text: string, heredocs: Heredoc[], range: SourceRange, original: string) => Instruction;

const FORBIDDEN = new Set(['ONBUILD', 'FROM', 'MAINTAINER']);

export function parseOnbuild(input: InstrInput, parseLine: LineParser): OnbuildInstruction {
  flagsOf(input, {});
  if (!input.rest) atLeastOne(input);
  const trigger = input.rest.split(/\s+/, 1)[0]!.toUpperCase();
  if (trigger === 'ONBUILD') fail(input, 'TB_PARSE_ONBUILD', 'Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
  if (FORBIDDEN.has(trigger)) fail(input, 'TB_PARSE_ONBUILD', `${trigger} isn't allowed as an ONBUILD trigger`, { trigger });
  // The expression is what the image config stores: the trigger line, then any heredoc bodies.
  let expression = input.rest;
  for (const h of input.heredocs) expression += '\n' + h.content + h.name;
  const parsed = parseLine(input.rest, input.heredocs, { ...input.range }, input.rest);
  return { kind: 'ONBUILD', ...base(input), expression, trigger: parsed };
}
