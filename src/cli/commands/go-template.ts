/**
 * The small part of Go's text/template that `--format` is used with in scripts:
 * `{{.Field.Sub}}`, `{{json .Field}}`, `{{.}}`, literal text, and `\t`/`\n` escapes as the
 * Docker CLI expands them. Anything else is printed as written.
 */

function lookup(value: unknown, path: string): unknown {
  if (path === '.') return value;
  let v = value;
  for (const key of path.slice(1).split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/** Go's default formatting of a value (`fmt.Sprint`). */
function goPrint(v: unknown): string {
  if (v === null || v === undefined) return '<no value>';
  if (Array.isArray(v)) return `[${v.map(goPrint).join(' ')}]`;
  if (typeof v === 'object') {
    const entries = Object.keys(v as object)
      .sort()
      .map((k) => `${k}:${goPrint((v as Record<string, unknown>)[k])}`);
    return `map[${entries.join(' ')}]`;
  }
  return String(v);
}

export function renderTemplate(template: string, data: unknown): string {
  const text = template.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  return text.replace(/\{\{-?\s*(.*?)\s*-?\}\}/g, (whole, expr: string) => {
    const json = /^json\s+(\.[\w.]*|\.)$/.exec(expr);
    if (json) return JSON.stringify(lookup(data, json[1]!) ?? null);
    if (/^\.[\w.]*$/.test(expr) || expr === '.') {
      const v = lookup(data, expr);
      return v === undefined && expr !== '.' ? '<no value>' : goPrint(v);
    }
    return whole;
  });
}
