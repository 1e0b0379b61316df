import { PassThrough, type Readable } from 'node:stream';
import { TbuildError } from '../errors.js';

/** Docker's default: Ctrl-P Ctrl-Q. */
export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/**
 * Docker's detach-key syntax: comma-separated keys, each a single character or `ctrl-X` with X
 * one of a-z, @, [, \, ], ^, _ (the control codes 0-31).
 */
export function parseDetachKeys(spec: string | undefined): Buffer {
  const text = spec === undefined || spec === '' ? DEFAULT_DETACH_KEYS : spec;
  const out: number[] = [];
  for (const key of text.split(',')) {
    const k = key.trim();
    if (k.length === 1) {
      out.push(k.charCodeAt(0));
      continue;
    }
    const m = /^ctrl-(.)$/i.exec(k);
    const c = m?.[1]!.toLowerCase();
    if (c !== undefined && c >= 'a' && c <= 'z') out.push(c.charCodeAt(0) - 96);
    else if (c !== undefined && '@[\\]^_'.includes(c)) out.push('@[\\]^_'.indexOf(c) === 0 ? 0 : 26 + '@[\\]^_'.indexOf(c));
    else throw new TbuildError('TB_INVALID_ARGUMENT', `Invalid detach keys (${text}) provided`);
  }
  if (!out.length || out.some((b) => b > 127)) throw new TbuildError('TB_INVALID_ARGUMENT', `Invalid detach keys (${text}) provided`);
  return Buffer.from(out);
}

/**
 * Copy `input` on, watching for the detach sequence. Bytes that might begin it are held back
 * until it completes (they are then never delivered) or diverges (they go on). On a match the
 * copy stops without ending its output, so the process behind it keeps its stdin open, and
 * `onDetach` is called; the end of `input` otherwise ends the output.
 */
export function watchDetachKeys(input: Readable, keys: Buffer, onDetach: () => void): PassThrough {
  const out = new PassThrough();
  let matched = 0;
  let detached = false;
  const onData = (chunk: Buffer) => {
    if (detached) return;
    const pass: number[] = [];
    for (const b of chunk) {
      if (b === keys[matched]) {
        matched++;
        if (matched === keys.length) {
          if (pass.length) out.write(Buffer.from(pass));
          detached = true;
          input.off('data', onData);
          input.off('end', onEnd);
          onDetach();
          return;
        }
        continue;
      }
      // a broken prefix goes on as typed, then this byte is looked at afresh
      if (matched) pass.push(...keys.subarray(0, matched));
      matched = 0;
      if (b === keys[0]) matched = 1;
      else pass.push(b);
    }
    if (pass.length) out.write(Buffer.from(pass));
  };
  const onEnd = () => {
    if (matched) out.write(keys.subarray(0, matched));
    out.end();
  };
  input.on('data', onData);
  input.once('end', onEnd);
  return out;
}
