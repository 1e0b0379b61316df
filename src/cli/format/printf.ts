/**
 * Go's `fmt.Sprintf` verbs for values decoded from JSON: %v %s %q %d %x %X %o %b %c %e %f %g %t
 * %T %%, with flags (`-`, `+`, `0`, space, `#`), width and precision (also `*`). A verb that
 * does not fit its argument prints Go's `%!d(string=x)` marker rather than guessing.
 */
import { goPrint } from './print.js';

function goType(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'string') return 'string';
  if (Array.isArray(v)) return '[]interface {}';
  return 'map[string]interface {}';
}

function quote(s: string): string {
  return JSON.stringify(s).replace(/\\u([\da-f]{4})/g, (_m, h: string) => `\\x${h.slice(2)}`);
}

function pad(s: string, width: number | undefined, flags: string, numeric: boolean): string {
  const len = [...s].length;
  if (width === undefined || len >= width) return s;
  if (flags.includes('-')) return s + ' '.repeat(width - len);
  if (flags.includes('0') && numeric) {
    const sign = /^[-+ ]/.test(s) ? s[0]! : '';
    return sign + '0'.repeat(width - len) + s.slice(sign.length);
  }
  return ' '.repeat(width - len) + s;
}

function signed(n: number, body: string, flags: string): string {
  if (n < 0) return body;
  return (flags.includes('+') ? '+' : flags.includes(' ') ? ' ' : '') + body;
}

function bad(verb: string, v: unknown): string {
  return `%!${verb}(${goType(v)}=${goPrint(v)})`;
}

function formatOne(verb: string, flags: string, width: number | undefined, prec: number | undefined, v: unknown): string {
  const num = typeof v === 'number';
  switch (verb) {
    case 'v':
      if (flags.includes('#') && typeof v === 'string') return pad(quote(v), width, flags, false);
      return pad(goPrint(v), width, flags, false);
    case 's':
    case 'q': {
      if (typeof v !== 'string' && verb === 'q') return num && Number.isInteger(v) ? pad(`'${String.fromCodePoint(v)}'`, width, flags, false) : bad(verb, v);
      let s = typeof v === 'string' ? v : goPrint(v);
      if (prec !== undefined) s = [...s].slice(0, prec).join('');
      return pad(verb === 'q' ? quote(s) : s, width, flags, false);
    }
    case 'd':
    case 'x':
    case 'X':
    case 'o':
    case 'b': {
      if (typeof v === 'string' && (verb === 'x' || verb === 'X')) {
        const hex = Buffer.from(v).toString('hex');
        return pad(verb === 'X' ? hex.toUpperCase() : hex, width, flags, false);
      }
      if (!num || !Number.isInteger(v)) return bad(verb, v);
      const n = v as number;
      const radix = { d: 10, x: 16, X: 16, o: 8, b: 2 }[verb];
      let body = Math.abs(n).toString(radix);
      if (verb === 'X') body = body.toUpperCase();
      if (prec !== undefined) body = body.padStart(prec, '0');
      if (flags.includes('#')) body = ({ x: '0x', X: '0X', o: '0', b: '0b', d: '' } as Record<string, string>)[verb] + body;
      return pad(signed(n, (n < 0 ? '-' : '') + body, flags), width, flags, prec === undefined);
    }
    case 'c':
      return num && Number.isInteger(v) ? pad(String.fromCodePoint(v as number), width, flags, false) : bad(verb, v);
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G': {
      if (!num) return bad(verb, v);
      const n = v as number;
      let body: string;
      if (verb === 'f' || verb === 'F') body = Math.abs(n).toFixed(prec ?? 6);
      else if (verb === 'e' || verb === 'E') {
        body = Math.abs(n)
          .toExponential(prec ?? 6)
          .replace(/e([-+])(\d)$/, 'e$10$2');
        if (verb === 'E') body = body.toUpperCase();
      } else body = prec === undefined ? String(Math.abs(n)) : String(Number(Math.abs(n).toPrecision(prec)));
      return pad(signed(n, (n < 0 ? '-' : '') + body, flags), width, flags, true);
    }
    case 't':
      return typeof v === 'boolean' ? pad(String(v), width, flags, false) : bad(verb, v);
    case 'T':
      return pad(goType(v), width, flags, false);
    default:
      return `%!${verb}(${goType(v)}=${goPrint(v)})`;
  }
}

export function sprintf(format: string, args: unknown[]): string {
  let next = 0;
  let out = '';
  const re = /%([-+# 0]*)(\*|\d+)?(?:\.(\*|\d*))?([a-zA-Z%])/g;
  let last = 0;
  for (let m = re.exec(format); m; m = re.exec(format)) {
    out += format.slice(last, m.index);
    last = re.lastIndex;
    const [, flags = '', w, p, verb] = m;
    if (verb === '%') {
      out += '%';
      continue;
    }
    const width = w === '*' ? Number(args[next++]) : w === undefined ? undefined : Number(w);
    const prec = p === '*' ? Number(args[next++]) : p === undefined ? undefined : Number(p || 0);
    if (next >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    out += formatOne(verb!, flags, width, prec, args[next++]);
  }
  out += format.slice(last);
  if (next < args.length) out += `%!(EXTRA ${args.slice(next).map((a) => `${goType(a)}=${goPrint(a)}`).join(', ')})`;
  return out;
}
