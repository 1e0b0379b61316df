/**
 * Go's text/tabwriter as the Docker CLI configures it for `table` output (min width 10, tab
 * width 1, padding 3, padded with spaces). Columns align per block of consecutive lines that
 * share the column, and a line's last cell (not tab-terminated) never widens a column, so the
 * output matches Docker's byte for byte.
 */
export interface TabwriterOptions {
  minWidth: number;
  padding: number;
}

const DOCKER: TabwriterOptions = { minWidth: 10, padding: 3 };

function width(s: string): number {
  return [...s].length;
}

export function tabwrite(text: string, opts: TabwriterOptions = DOCKER): string {
  const endsWithNewline = text.endsWith('\n');
  const lines = (endsWithNewline ? text.slice(0, -1) : text).split('\n').map((l) => l.split('\t'));
  const widths: number[] = [];
  let out = '';

  const writeLines = (from: number, to: number): void => {
    for (let i = from; i < to; i++) {
      const cells = lines[i]!;
      cells.forEach((cell, j) => {
        if (j < widths.length && j < cells.length - 1) out += cell + ' '.repeat(Math.max(0, widths[j]! - width(cell)));
        else out += cell;
      });
      if (i < lines.length - 1 || endsWithNewline) out += '\n';
    }
  };

  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    for (let row = line0; row < line1; row++) {
      if (column >= lines[row]!.length - 1) continue;
      writeLines(line0, row);
      line0 = row;
      let w = opts.minWidth;
      for (; row < line1; row++) {
        const cells = lines[row]!;
        if (column >= cells.length - 1) break;
        w = Math.max(w, width(cells[column]!) + opts.padding);
      }
      widths.push(w);
      format(line0, row);
      widths.pop();
      line0 = row;
    }
    writeLines(line0, line1);
  };

  format(0, lines.length);
  return out;
}
