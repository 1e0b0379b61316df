/** Docker CLI display conventions shared by the image commands. */
import { humanDuration } from '../../util/time.js';

/** go-units HumanSizeWithPrecision(size, 3): decimal units, 3 significant digits. */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
  let size = bytes;
  let i = 0;
  while (size >= 1000 && i < units.length - 1) {
    size /= 1000;
    i++;
  }
  return `${Number(size.toPrecision(3))}${units[i]}`;
}

export { humanDuration };

/** "2 weeks ago", or "N/A" for a missing time. */
export function since(iso: string | undefined, now = Date.now()): string {
  const t = iso ? Date.parse(iso) : NaN;
  if (!Number.isFinite(t) || t <= Date.parse('0001-01-02T00:00:00Z')) return 'N/A';
  return `${humanDuration(Math.max(0, now - t))} ago`;
}

/** Go's time.String() form Docker prints in `--format` output: `2024-01-02 03:04:05 +0000 UTC`. */
export function goTime(iso: string | undefined): string {
  const t = iso ? new Date(iso) : undefined;
  if (!t || !Number.isFinite(t.getTime())) return '0001-01-01 00:00:00 +0000 UTC';
  return `${t.toISOString().slice(0, 19).replace('T', ' ')} +0000 UTC`;
}

/** stringutils.Ellipsis: at most `max` characters, the last one `…` when cut. */
export function ellipsis(s: string, max: number): string {
  const chars = [...s];
  if (chars.length <= max) return s;
  return chars.slice(0, max - 1).join('') + '…';
}

/** Columns as Docker's tabwriter lays them out (min width 10, padding 3). */
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(10, ...all.map((r) => [...(r[c] ?? '')].length + 3)));
  return all
    .map((r) =>
      r
        .map((cell, c) => (c === r.length - 1 ? cell : cell + ' '.repeat(widths[c]! - [...cell].length)))
        .join(''),
    )
    .map((l) => l + '\n')
    .join('');
}
