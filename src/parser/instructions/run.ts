import { isTbuildError } from '../../errors.js';
import type { CmdInstruction, EntrypointInstruction, RunInstruction, ShellInstruction } from '../types.js';
import { parseMount, mountFrom } from '../mount.js';
import { atLeastOne, base, commandForm, fail, flagsOf, parseJSONArray, type InstrInput } from './common.js';

const NETWORKS = ['default', 'none', 'host'] as const;
const SECURITY = ['sandbox', 'insecure'] as const;

export function parseRun(input: InstrInput): RunInstruction {
  const flags = flagsOf(input, { mount: 'list', network: 'string', security: 'string' });
  if (!input.rest) atLeastOne(input);
  const mounts = (flags.mount as string[] | undefined) ?? [];
  for (const raw of mounts) checkMount(input, raw);
  const out: RunInstruction = { kind: 'RUN', ...base(input), command: commandForm(input, input.rest), mounts, heredocs: input.heredocs };
  if (typeof flags.network === 'string') {
    const v = flags.network;
    if (!(NETWORKS as readonly string[]).includes(v)) fail(input, 'TB_PARSE_BAD_FLAG', `unsupported network mode "${v}" for --network (use default, none or host)`, { flag: 'network' });
    out.network = v as RunInstruction['network'];
  }
  if (typeof flags.security === 'string') {
    const v = flags.security;
    if (!(SECURITY as readonly string[]).includes(v)) fail(input, 'TB_PARSE_BAD_FLAG', `unsupported security mode "${v}" for --security (use sandbox or insecure)`, { flag: 'security' });
    out.security = v as RunInstruction['security'];
  }
  return out;
}

/**
 * Mounts are validated now when they hold no variable; otherwise the solver parses them after
 * expansion. `from=` never takes variables (BuildKit: define an alias stage instead).
 */
function checkMount(input: InstrInput, raw: string): void {
  try {
    const from = mountFrom(raw);
    const dollar = from?.indexOf('$') ?? -1;
    if (from !== undefined && dollar >= 0 && dollar !== from.length - 1) {
      fail(input, 'TB_PARSE_MOUNT', `--mount=${raw}: 'from' doesn't support variable expansion, define an alias stage instead`, { flag: 'mount' });
    }
    if (!raw.includes('$')) parseMount(raw);
  } catch (err) {
    if (isTbuildError(err)) {
      err.range ??= { ...input.range };
      err.file ??= input.file;
    }
    throw err;
  }
}

export function parseCmd(input: InstrInput): CmdInstruction {
  flagsOf(input, {});
  return { kind: 'CMD', ...base(input), command: commandForm(input, input.rest) };
}

export function parseEntrypoint(input: InstrInput): EntrypointInstruction {
  flagsOf(input, {});
  return { kind: 'ENTRYPOINT', ...base(input), command: commandForm(input, input.rest) };
}

export function parseShell(input: InstrInput): ShellInstruction {
  flagsOf(input, {});
  const args = parseJSONArray(input, input.rest);
  if (!args) {
    if (!input.rest) atLeastOne(input);
    fail(input, 'TB_PARSE_BAD_ARGS', `SHELL requires the arguments to be in JSON form, got: ${input.rest}`);
  }
  if (args.length === 0) atLeastOne(input);
  return { kind: 'SHELL', ...base(input), shell: args };
}
