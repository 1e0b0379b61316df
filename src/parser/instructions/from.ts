import type { FromInstruction } from '../types.js';
import { base, fail, flagsOf, whitespaceWords, type InstrInput } from './common.js';

/** Stage names: a letter, then letters, digits, `-`, `_`, `.` (compared lower-cased). */
export const STAGE_NAME_RE = /^[a-z][a-z0-9-_.]*$/;

export function parseFrom(input: InstrInput): FromInstruction {
  const flags = flagsOf(input, { platform: 'string' });
  const args = whitespaceWords(input.rest);
  let alias: string | undefined;
  if (args.length === 3 && args[1]!.toLowerCase() === 'as') {
    alias = args[2]!;
    if (!STAGE_NAME_RE.test(alias.toLowerCase())) {
      fail(input, 'TB_PARSE_BAD_ARGS', `invalid name for build stage: "${alias}", name can't start with a number or contain symbols`);
    }
  } else if (args.length !== 1) {
    fail(input, 'TB_PARSE_BAD_ARGS', `FROM requires either one or three arguments (FROM image [AS name]), got ${args.length}`);
  }
  const out: FromInstruction = { kind: 'FROM', ...base(input), image: args[0]! };
  if (typeof flags.platform === 'string' && flags.platform) out.platform = flags.platform;
  if (alias !== undefined) out.alias = alias;
  return out;
}
