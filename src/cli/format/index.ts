/**
 * `--format` for every listing command, one engine for all: `table` (the command's default
 * columns), `table TEMPLATE` (a header row plus aligned columns), `json` (one JSON object per
 * line) or a Go template per row, with `\t` and `\n` escapes expanded as the Docker CLI does.
 */
import { execute } from './exec.js';
import { parseTemplate, type Node } from './parse.js';
import { tabwrite } from './tabwriter.js';

export { goPrint } from './print.js';
export { tabwrite } from './tabwriter.js';

export interface ListFormat {
  /** The command's default, a `table …` template. */
  table: string;
  /** Column titles by field name, for the header row of `table` templates. */
  headers: Record<string, string>;
}

/** A template parsed once and executed per value. */
export class Template {
  private readonly nodes: Node[];
  constructor(source: string) {
    this.nodes = parseTemplate(source.replace(/\\t/g, '\t').replace(/\\n/g, '\n'));
  }
  render(data: unknown, mode: 'row' | 'header' = 'row'): string {
    return execute(this.nodes, data, mode);
  }
}

export function renderTemplate(source: string, data: unknown): string {
  return new Template(source).render(data);
}

/** The header row as Docker derives it: the template run over the column titles. */
function headerData(template: string, headers: Record<string, string>): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const m of template.matchAll(/\.([A-Za-z_]\w*)/g)) {
    const field = m[1]!;
    const title = headers[field] ?? field.replace(/([a-z])([A-Z])/g, '$1 $2').toUpperCase();
    // A function, so that method-style fields with arguments (`.Label "k"`) title their column too.
    data[field] = () => title;
  }
  return data;
}

/** Renders `rows` for a `--format` value (undefined means the command's table). */
export function formatList(format: string | undefined, rows: readonly object[], spec: ListFormat): string {
  let f = format === undefined || format === '' || format === 'table' ? spec.table : format;
  if (f === 'json') f = '{{json .}}';
  const isTable = f.startsWith('table');
  const body = (isTable ? f.slice('table'.length) : f).replace(/^ +| +$/g, '');
  const template = new Template(body);
  let out = '';
  for (const row of rows) out += `${template.render(row)}\n`;
  if (!isTable) return out;
  const header = template.render(headerData(body, spec.headers), 'header');
  return tabwrite(`${header}\n${out}`);
}
