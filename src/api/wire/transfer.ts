import type { TransferProgress } from '../../registry/types.js';
import type { JsonMessage } from './json-message.js';

/** Sizes as Docker's progress bar prints them (decimal units: `1.23MB`). */
export function humanSize(n: number): string {
  if (n < 1000) return `${n}B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  do {
    v /= 1000;
    i++;
  } while (v >= 1000 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 3 : v < 100 ? 2 : 1).replace(/\.?0+$/, '')}${units[i]}`;
}

/** `[=====>     ]  1.2MB/3.4MB`, Docker's bar. */
export function progressBar(current: number, total: number): string {
  const width = 50;
  const filled = total > 0 ? Math.min(width, Math.floor((current / total) * width)) : 0;
  const bar = filled === width ? '='.repeat(width) : `${'='.repeat(filled)}>${' '.repeat(width - filled - 1)}`;
  return `[${bar}] ${humanSize(current).padStart(7)}/${humanSize(total)}`;
}

/** One pull/push progress event as Docker's JSON message (`progressDetail`, and the bar in `progress`). */
export function transferMessage(p: TransferProgress): JsonMessage {
  const m: JsonMessage = { status: p.status };
  if (p.id !== undefined) m.id = p.id;
  if (p.current !== undefined && p.total) {
    m.progressDetail = { current: p.current, total: p.total };
    m.progress = progressBar(p.current, p.total);
  } else if (p.id !== undefined) {
    m.progressDetail = {};
  }
  return m;
}

/** A JSON message of a pull/push stream back into a progress event (the CLI's daemon client). */
export function transferProgress(m: JsonMessage): TransferProgress | undefined {
  if (!m.status) return undefined;
  const d = m.progressDetail;
  return {
    ...(m.id ? { id: m.id } : {}),
    status: m.status,
    ...(typeof d?.current === 'number' ? { current: d.current } : {}),
    ...(typeof d?.total === 'number' ? { total: d.total } : {}),
  };
}
