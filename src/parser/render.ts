import type { TbuildError } from '../errors.js';
import type { SourceRange } from './types.js';

/**
 * Keeps the source on the error for rendering, non-enumerable so logs, inspection and JSON
 * (the daemon's error bodies) do not carry the whole Dockerfile.
 */
export function attachSource(err: TbuildError, source: string): void {
  if (err.details.source === undefined) Object.defineProperty(err.details, 'source', { value: source, enumerable: false, configurable: true, writable: true });
}

/**
 * Recently parsed Dockerfile sources by path, so an error raised later (by the solver, with only
 * `range` and `file`) can still be shown with its lines. Bounded: a long-running daemon parses
 * many files and only recent ones matter for errors.
 */
const MAX_SOURCES = 32;
const sources = new Map<string, string>();

export function registerSource(file: string, text: string): void {
  sources.delete(file);
  sources.set(file, text);
  if (sources.size > MAX_SOURCES) sources.delete(sources.keys().next().value!);
}

export function lookupSource(file: string): string | undefined {
  return sources.get(file);
}

const RULE = '-'.repeat(20);

/**
 * The BuildKit-style snippet for a range:
 * ```
 * Dockerfile:3
 * --------------------
 *    2 |     RUN true
 *    3 | >>> RUN exit 1
 * --------------------
 * ```
 * Context grows around the failing lines: four lines of padding for a one-line range, two
 * otherwise, split before and after as far as the file allows.
 */
export function renderSnippet(source: string, range: SourceRange, file = 'Dockerfile'): string {
  const lines = source.split(/\r?\n/);
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  let start = Math.max(1, range.startLine);
  let end = Math.min(lines.length, Math.max(range.endLine, start));
  if (start > lines.length) return `${file}:${range.startLine}\n`;
  const pad = end === start ? 4 : 2;
  for (let p = 0; p < pad; ) {
    const before = start > 1;
    const after = end < lines.length;
    if (!before && !after) break;
    if (before) {
      start--;
      p++;
    }
    if (after && p < pad) {
      end++;
      p++;
    }
  }
  const width = Math.max(3, String(end).length);
  let out = `${file}:${range.startLine}\n${RULE}\n`;
  for (let i = start; i <= end; i++) {
    const mark = i >= range.startLine && i <= range.endLine ? '>>>' : '   ';
    out += ` ${String(i).padStart(width)} | ${mark} ${lines[i - 1]}`.trimEnd() + '\n';
  }
  return out + RULE + '\n';
}
