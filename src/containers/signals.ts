import { constants } from 'node:os';
import { TbuildError } from '../errors.js';

const NAMES = new Set(Object.keys(constants.signals).map((n) => n.replace(/^SIG/, '')));

/**
 * A signal as Docker takes it (`KILL`, `SIGKILL`, `sigkill`, `9`, `RTMIN+3`), in the form runc's
 * `kill` takes; anything else is Docker's `Invalid signal` error, before anything is signalled.
 */
export function parseSignal(input: string): string {
  const s = input.trim();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n >= 1 && n <= 64) return s;
  } else {
    const name = s.toUpperCase().replace(/^SIG/, '');
    if (NAMES.has(name)) return name;
    const rt = /^RT(MIN|MAX)([+-]\d+)?$/.exec(name);
    if (rt) {
      const offset = Number(rt[2] ?? 0);
      const n = rt[1] === 'MIN' ? 34 + offset : 64 + offset;
      if (n >= 34 && n <= 64) return String(n);
    }
  }
  throw new TbuildError('TB_INVALID_ARGUMENT', `Invalid signal: ${input}`);
}
