import type {
  ExposeInstruction, MaintainerInstruction, StopSignalInstruction, UserInstruction, VolumeInstruction, WorkdirInstruction,
} from '../types.js';
import { atLeastOne, base, exactlyOne, fail, flagsOf, parseJSONArray, whitespaceWords, type InstrInput } from './common.js';

export function parseExpose(input: InstrInput): ExposeInstruction {
  flagsOf(input, {});
  const ports = whitespaceWords(input.rest);
  if (ports.length === 0) atLeastOne(input);
  // BuildKit sorts the words (byte order), which fixes the order in history and config
  ports.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { kind: 'EXPOSE', ...base(input), ports };
}

export function parseVolume(input: InstrInput): VolumeInstruction {
  flagsOf(input, {});
  const json = parseJSONArray(input, input.rest);
  const paths = (json ?? whitespaceWords(input.rest)).map((p) => p.trim());
  if (paths.length === 0) atLeastOne(input);
  if (paths.some((p) => p.trim() === '')) fail(input, 'TB_PARSE_BAD_ARGS', 'VOLUME specified can not be an empty string');
  return { kind: 'VOLUME', ...base(input), paths, json: json !== undefined };
}

/** USER, WORKDIR, STOPSIGNAL, MAINTAINER take the whole rest of the line as one argument. */
function single(input: InstrInput): string {
  flagsOf(input, {});
  if (!input.rest) exactlyOne(input);
  return input.rest;
}

export const parseUser = (input: InstrInput): UserInstruction => ({ kind: 'USER', ...base(input), user: single(input) });
export const parseWorkdir = (input: InstrInput): WorkdirInstruction => ({ kind: 'WORKDIR', ...base(input), path: single(input) });
export const parseStopSignal = (input: InstrInput): StopSignalInstruction => ({ kind: 'STOPSIGNAL', ...base(input), signal: single(input) });
export const parseMaintainer = (input: InstrInput): MaintainerInstruction => ({ kind: 'MAINTAINER', ...base(input), name: single(input) });
