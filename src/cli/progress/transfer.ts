import type { TransferProgress } from '../../registry/types.js';
import { progressBar } from '../../api/wire/transfer.js';

/**
 * Docker's pull/push output. On a terminal each layer keeps one line, redrawn in place with a bar;
 * otherwise each status change is printed once and byte counts are left out.
 */
export interface TransferRenderer {
  event(p: TransferProgress): void;
  done(): void;
}

export function createTransferRenderer(out: NodeJS.WritableStream & { isTTY?: boolean }, quiet = false): TransferRenderer {
  if (quiet) return { event: () => {}, done: () => {} };
  if (!out.isTTY) {
    const last = new Map<string, string>();
    return {
      event(p) {
        if (p.current !== undefined && p.status !== 'Extracting') {
          if (last.get(p.id ?? '') === p.status) return;
        }
        if (p.id !== undefined && last.get(p.id) === p.status) return;
        if (p.id !== undefined) last.set(p.id, p.status);
        out.write(p.id !== undefined ? `${p.id}: ${p.status}\n` : `${p.status}\n`);
      },
      done() {},
    };
  }
  const order: string[] = [];
  const lines = new Map<string, string>();
  let drawn = 0;
  const redraw = (): void => {
    let s = drawn ? `\x1b[${drawn}A` : '';
    for (const id of order) s += `\x1b[2K${id}: ${lines.get(id)}\n`;
    drawn = order.length;
    out.write(s);
  };
  return {
    event(p) {
      if (p.id === undefined || /^(Pulling from|The push refers)/.test(p.status)) {
        // Repository-wide lines go above the layer lines once they are drawn.
        if (drawn === 0) out.write(p.id !== undefined ? `${p.id}: ${p.status}\n` : `${p.status}\n`);
        else {
          out.write(`${p.status}\n`);
          drawn = 0;
          order.length = 0;
        }
        return;
      }
      if (!lines.has(p.id)) order.push(p.id);
      lines.set(p.id, p.current !== undefined && p.total ? `${p.status.padEnd(12)}${progressBar(p.current, p.total)}` : p.status);
      redraw();
    },
    done() {},
  };
}
