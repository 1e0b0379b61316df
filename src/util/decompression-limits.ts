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
 * The decoder's output, failing with TB_DECOMPRESSION_LIMIT (naming `what` and the limit) as soon
 * as it passes a limit; the decoder is destroyed with it, so nothing more is produced.
 */
export function guardDecompressed(out: Readable, compressedBytes: () => number, what: string, kind: string): Readable {
  const { maxBytes, maxRatio, ratioAfter } = limits;
  let total = 0;
  const guard = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      total += chunk.length;
      if (total > maxBytes) return cb(limitError(what, kind, `expands past the ${human(maxBytes)} limit`));
      const inBytes = Math.max(1, compressedBytes());
      if (total > ratioAfter && total / inBytes > maxRatio) {
        return cb(limitError(what, kind, `expands more than ${maxRatio}:1 (${human(inBytes)} in, ${human(total)} out so far)`));
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
