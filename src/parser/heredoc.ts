import type { Heredoc } from './types.js';
import { splitWords } from './shell/index.js';
import { extractFlags } from './flags.js';

/** A heredoc word: optional fd, `<<` or `<<-`, then the (possibly quoted) delimiter. */
const HEREDOC_RE = /^(\d*)<<(-?)\s*([^<]*)$/;

/** Instructions whose line may start heredocs (ONBUILD wraps one of them). */
const HEREDOC_INSTRUCTIONS = new Set(['run', 'copy', 'add']);

/**
 * Whether a logical line may start heredocs: RUN, COPY or ADD (also as an ONBUILD trigger), and
 * not in JSON form (BuildKit reads `RUN ["cat", "<<EOF"]` as plain arguments).
 */
export function canContainHeredoc(line: string, escape: '\\' | '`' = '\\'): boolean {
  let rest = line.trimStart();
  let kw = firstWord(rest);
  if (kw.toLowerCase() === 'onbuild') {
    rest = rest.slice(kw.length).trimStart();
    kw = firstWord(rest);
  }
  if (!HEREDOC_INSTRUCTIONS.has(kw.toLowerCase())) return false;
  const args = extractFlags(rest.slice(kw.length), escape).rest.trim();
  if (!args.startsWith('[')) return true;
  try {
    const v: unknown = JSON.parse(args);
    return !(Array.isArray(v) && v.every((x) => typeof x === 'string'));
  } catch {
    return true;
  }
}

const firstWord = (s: string): string => /^[^ \t\v\f\r]*/.exec(s)![0];

/**
 * Parses one word as a heredoc start (`<<EOF`, `<<-"EOF"`, `3<<EOF`), or undefined when it is not
 * one. The delimiter's quotes are removed; any quoting turns expansion of the body off.
 * Content is filled in by the caller once the body lines are read.
 */
export function parseHeredocWord(word: string): Heredoc | undefined {
  const m = HEREDOC_RE.exec(word);
  if (!m) return undefined;
  const raw = m[3]!;
  const name = unquote(raw);
  if (!name) return undefined;
  // Any quote in the delimiter turns expansion off; a backslash alone does not (as BuildKit).
  const quotes = (w: string): number => (w.match(/["']/g) ?? []).length;
  const heredoc: Heredoc = { name, content: '', expand: quotes(name) === quotes(raw), chomp: m[2] === '-' };
  if (m[1]) heredoc.fileDescriptor = Number(m[1]);
  return heredoc;
}

/** The heredocs a line starts, in order; words are split like a shell would, quotes kept. */
export function heredocsFromLine(line: string): Heredoc[] {
  if (!line.includes('<<')) return [];
  const out: Heredoc[] = [];
  for (const w of splitWords(line, { escape: '\\' })) {
    const h = parseHeredocWord(w);
    if (h) out.push(h);
  }
  return out;
}

/** Removes shell quoting from a delimiter word: `"EOF"`, `'EOF'`, `E"O"F`, `\EOF`. */
function unquote(word: string): string {
  let out = '';
  let quote = '';
  for (let i = 0; i < word.length; i++) {
    const ch = word[i]!;
    if (quote) {
      if (ch === quote) quote = '';
      else if (ch === '\\' && quote === '"' && i + 1 < word.length) out += word[++i];
      else out += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
    } else if (ch === '\\' && i + 1 < word.length) {
      out += word[++i];
    } else {
      out += ch;
    }
  }
  return out;
}

/** `<<-` strips leading tabs from every body line. */
export function chompTabs(content: string): string {
  return content.replace(/^\t+/gm, '');
}
