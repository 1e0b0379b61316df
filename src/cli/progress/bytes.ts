import { Transform } from 'node:stream';
import { humanSize } from '../commands/images-format.js';

/**
 * One line on a terminal for a long byte stream (`load`, `save`, `import`): bytes done of the total
 * when known, the rate and the time left, redrawn at most every `intervalMs`. Nothing at all when
 * the stream is not a terminal, so scripts and pipes see only the command's own output.
 */
export interface ByteMeter {
  /** Pass the data through this to count it. */
  readonly counter: Transform;
  /** The final line (and newline) once the transfer is complete. */
  done(): void;
  /** Bytes counted so far. */
  bytes(): number;
  /** Count bytes that do not pass through `counter` (a transfer another layer reports). */
  advance(n: number): void;
}

export function byteMeter(
  label: string,
  out: NodeJS.WritableStream & { isTTY?: boolean },
  opts: { total?: number; quiet?: boolean; intervalMs?: number; now?: () => number } = {},
): ByteMeter {
  const now = opts.now ?? Date.now;
  const interval = opts.intervalMs ?? 100;
  const started = now();
  let bytes = 0;
  let drawnAt = -Infinity;
  let drawn = false;
  const render = (): string => {
    const seconds = Math.max((now() - started) / 1000, 1e-3);
    const rate = bytes / seconds;
    let text = `${label} ${humanSize(bytes)}`;
    if (opts.total) text += `/${humanSize(opts.total)} ${Math.min(100, Math.floor((bytes / opts.total) * 100))}%`;
    text += ` ${humanSize(rate)}/s`;
    if (opts.total && rate > 0 && bytes < opts.total) text += ` ETA ${Math.ceil((opts.total - bytes) / rate)}s`;
    return text;
  };
  const show = Boolean(out.isTTY) && !opts.quiet;
  const draw = (force: boolean): void => {
    if (!show) return;
    const t = now();
    if (!force && t - drawnAt < interval) return;
    drawnAt = t;
    drawn = true;
    out.write(`\r\x1b[2K${render()}`);
  };
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      draw(false);
      cb(null, chunk);
    },
  });
  return {
    counter,
    bytes: () => bytes,
    advance(n) {
      bytes += n;
      draw(false);
    },
    done() {
      if (!show) return;
      draw(true);
      if (drawn) out.write('\n');
    },
  };
}
