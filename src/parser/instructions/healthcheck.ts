import type { HealthcheckInstruction } from '../types.js';
import { parseGoDuration } from '../duration.js';
import { atLeastOne, base, commandForm, fail, flagsOf, type InstrInput } from './common.js';

const MIN_DURATION_NS = 1e6;

export function parseHealthcheck(input: InstrInput): HealthcheckInstruction {
  const m = /^(\S+)\s*([\s\S]*)$/.exec(input.rest);
  if (!m) atLeastOne(input);
  const type = m![1]!.toUpperCase();
  const rest = m![2]!;
  if (type === 'NONE') {
    if (rest) fail(input, 'TB_PARSE_BAD_ARGS', `HEALTHCHECK NONE takes no arguments, got: ${rest}`);
    return { kind: 'HEALTHCHECK', ...base(input), check: { type: 'NONE' } };
  }
  const flags = flagsOf(input, { interval: 'string', timeout: 'string', 'start-period': 'string', 'start-interval': 'string', retries: 'string' });
  if (type !== 'CMD') fail(input, 'TB_PARSE_BAD_ARGS', `Unknown type "${m![1]}" in HEALTHCHECK (try CMD)`);
  const command = commandForm(input, rest);
  if ((command.type === 'exec' && command.args.length === 0) || (command.type === 'shell' && !command.command)) {
    fail(input, 'TB_PARSE_BAD_ARGS', 'Missing command after HEALTHCHECK CMD');
  }
  const duration = (name: string): number => {
    const v = flags[name];
    if (typeof v !== 'string' || v === '') return 0;
    const ns = parseGoDuration(v);
    if (ns === undefined) fail(input, 'TB_PARSE_BAD_FLAG', `HEALTHCHECK --${name}: invalid duration "${v}"`, { flag: name });
    if (ns === 0) return 0;
    if (ns < MIN_DURATION_NS) fail(input, 'TB_PARSE_BAD_FLAG', `HEALTHCHECK --${name} "${v}" cannot be less than 1ms`, { flag: name });
    return ns;
  };
  let retries = 0;
  if (typeof flags.retries === 'string' && flags.retries !== '') {
    if (!/^[+-]?\d+$/.test(flags.retries)) fail(input, 'TB_PARSE_BAD_FLAG', `HEALTHCHECK --retries: invalid number "${flags.retries}"`, { flag: 'retries' });
    retries = Number(flags.retries);
    if (retries < 0) fail(input, 'TB_PARSE_BAD_FLAG', `HEALTHCHECK --retries cannot be negative (${retries})`, { flag: 'retries' });
    if (retries > 2 ** 31 - 1) fail(input, 'TB_PARSE_BAD_FLAG', `HEALTHCHECK --retries out of range (${flags.retries})`, { flag: 'retries' });
  }
  return {
    kind: 'HEALTHCHECK',
    ...base(input),
    check: {
      type: 'CMD',
      command,
      interval: duration('interval'),
      timeout: duration('timeout'),
      startPeriod: duration('start-period'),
      startInterval: duration('start-interval'),
      retries,
    },
  };
}
