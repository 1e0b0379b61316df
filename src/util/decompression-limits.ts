import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { TbuildError } from '../errors.js';

/**
 * Bounds on what one compressed stream (a context, a layer, an ADD archive) may expand to, so a
 * small bomb cannot fill the disk. The ratio only counts once the output is past `ratioAfter`:
 * ordinary archives of zero-filled files stay well inside it.
 */
export interface DecompressionLimits {
  /** Most bytes one stream may expand to. */
  maxBytes: number;
  /** Most output bytes per input byte, checked once the output passes `ratioAfter`. */
  maxRatio: number;
  ratioAfter: number;
}

export const DEFAULT_DECOMPRESSION_LIMITS: DecompressionLimits = {
  maxBytes: 64 * 1024 ** 3,
  maxRatio: 1000,
  ratioAfter: 1024 ** 3,
};

let limits = DEFAULT_DECOMPRESSION_LIMITS;

/** Set by the composition root from its settings; every decompressor reads them. */
export function setDecompressionLimits(next: Partial<DecompressionLimits>): void {
  limits = { ...DEFAULT_DECOMPRESSION_LIMITS, ...next };
}

export function decompressionLimits(): DecompressionLimits {
  return limits;
}

/** Counts the compressed bytes that go through it (placed before the decoder). */
export class ByteCounter extends Transform {
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

/**
 * A check to call with the running totals of a decoder's output and input: throws
 * TB_DECOMPRESSION_LIMIT (naming `what` and the limit) once the output passes a limit.
 */
export function decompressionCheck(what: string, kind: string): (outBytes: number, inBytes: number) => void {
  const { maxBytes, maxRatio, ratioAfter } = limits;
  return (total, inBytes) => {
    if (total > maxBytes) throw limitError(what, kind, `expands past the ${human(maxBytes)} limit`);
    const input = Math.max(1, inBytes);
    if (total > ratioAfter && total / input > maxRatio) {
      throw limitError(what, kind, `expands more than ${maxRatio}:1 (${human(input)} in, ${human(total)} out so far)`);
    }
  };
}

/**
 * The decoder's output, failing with TB_DECOMPRESSION_LIMIT (naming `what` and the limit) as soon
 * as it passes a limit; the decoder is destroyed with it, so nothing more is produced.
 */
export function guardDecompressed(out: Readable, compressedBytes: () => number, what: string, kind: string): Readable {
  const check = decompressionCheck(what, kind);
  let total = 0;
  const guard = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      total += chunk.length;
      try {
        check(total, compressedBytes());
      } catch (err) {
        return cb(err as Error);
      }
      cb(null, chunk);
    },
  });
  out.on('error', (err) => guard.destroy(err));
  guard.on('close', () => out.destroy());
  return out.pipe(guard);
}

function limitError(what: string, kind: string, why: string): TbuildError {
  return new TbuildError(
    'TB_DECOMPRESSION_LIMIT',
    `${what} (${kind}) ${why}: refused as a decompression bomb (TBUILD_MAX_DECOMPRESSED and TBUILD_MAX_DECOMPRESSION_RATIO raise the limits)`,
  );
}

function human(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${Number.isInteger(n) ? n : n.toFixed(1)} ${units[i]}`;
}
