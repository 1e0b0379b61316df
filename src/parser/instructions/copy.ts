import type { CopyInstruction } from '../types.js';
import { parseHeredocWord } from '../heredoc.js';
import { expandWord } from '../shell/index.js';
import type { FlagSpec } from '../flags.js';
import { base, fail, flagsOf, parseJSONArray, whitespaceWords, type InstrInput } from './common.js';

const COPY_FLAGS: FlagSpec = { from: 'string', chown: 'string', chmod: 'string', link: 'bool', parents: 'bool', exclude: 'list' };
const ADD_FLAGS: FlagSpec = {
  chown: 'string', chmod: 'string', link: 'bool', exclude: 'list', checksum: 'string', 'keep-git-dir': 'bool', unpack: 'bool',
};

/**
 * COPY and ADD: JSON array or whitespace-separated words (no quote handling, as BuildKit).
 * A `<<EOF` source is a heredoc: `sources` holds its name at that position, `heredocs` its body.
 */
export function parseCopy(input: InstrInput): CopyInstruction {
  const isAdd = input.name === 'ADD';
  const flags = flagsOf(input, isAdd ? ADD_FLAGS : COPY_FLAGS);
  const args = parseJSONArray(input, input.rest) ?? whitespaceWords(input.rest);
  if (args.length < 2) {
    fail(input, 'TB_PARSE_BAD_ARGS', `${input.name} requires at least two arguments, but only ${args.length} was provided. Destination could not be determined.`);
  }
  const dest = args[args.length - 1]!;
  if (parseHeredocWord(dest)) fail(input, 'TB_PARSE_BAD_ARGS', `${input.name} cannot accept a heredoc as a destination: ${dest}`);
  const sources = args.slice(0, -1).map((src) => parseHeredocWord(src)?.name ?? src);
  const out: CopyInstruction = {
    kind: isAdd ? 'ADD' : 'COPY',
    ...base(input),
    sources,
    dest,
    link: flags.link === true,
    parents: flags.parents === true,
    excludes: (flags.exclude as string[] | undefined) ?? [],
    heredocs: input.heredocs,
  };
  // an empty value (`--from=`) means the flag was not given, as in BuildKit
  if (typeof flags.from === 'string' && flags.from) {
    // BuildKit refuses any expansion or quoting in --from: the stage graph must be static
    if (expandWord(flags.from, () => undefined, { escape: input.escape }) !== flags.from) {
      fail(input, 'TB_PARSE_BAD_FLAG', `variable expansion is not supported for --from=${flags.from}: define a stage with FROM using a global ARG instead`, { flag: 'from' });
    }
    out.from = flags.from;
  }
  if (typeof flags.chown === 'string' && flags.chown) out.chown = flags.chown;
  if (typeof flags.chmod === 'string' && flags.chmod) out.chmod = flags.chmod;
  if (isAdd) {
    if (typeof flags.checksum === 'string') out.checksum = flags.checksum;
    if (flags['keep-git-dir'] !== undefined) out.keepGitDir = flags['keep-git-dir'] === true;
    if (flags.unpack !== undefined) out.unpack = flags.unpack === true;
  }
  return out;
}
