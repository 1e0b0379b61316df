import { TbuildError } from '../errors.js';
import type { Diagnostic, Heredoc, SourceRange } from './types.js';
import { canContainHeredoc, chompTabs, heredocsFromLine } from './heredoc.js';

/** One instruction's text after continuations are joined, with the heredoc bodies that follow it. */
export interface LogicalLine {
  /** Continuations joined (escape char and trailing blanks removed), comment lines dropped. */
  text: string;
  range: SourceRange;
  heredocs: Heredoc[];
}

export interface LexResult {
  lines: LogicalLine[];
  diagnostics: Diagnostic[];
}

const isBlank = (s: string): boolean => s.trim() === '';
const isComment = (trimmed: string): boolean => trimmed.startsWith('#');

/**
 * Splits source lines into logical lines the way BuildKit's parser does: the first line of an
 * instruction loses its leading blanks, continuation lines keep theirs; comment lines (first
 * non-blank char `#`) and blank lines inside a continuation are skipped (the latter with a
 * NoEmptyContinuation warning); heredoc bodies are read raw, without continuation or comment rules.
 */
export function lex(lines: readonly string[], escape: '\\' | '`', first: number, file?: string): LexResult {
  const out: LogicalLine[] = [];
  const diagnostics: Diagnostic[] = [];
  const esc = escape === '`' ? '`' : '\\\\';
  // An escape char ending the line continues it, unless it is itself escaped (`echo \\`);
  // like BuildKit's, this does not see a continuation after an escaped escape (`\\\`).
  const continuation = new RegExp(`([^${esc}])${esc}[ \\t]*$|^${esc}[ \\t]*$`);
  const trim = (s: string): [string, boolean] => {
    const m = continuation.exec(s);
    return m ? [s.slice(0, m.index) + (m[1] ?? ''), false] : [s, true];
  };

  let i = first;
  while (i < lines.length) {
    const lineNo = i + 1;
    const stripped = lines[i]!.trimStart();
    i++;
    if (isComment(stripped)) continue;
    let [text, ended] = trim(stripped);
    if (ended && isBlank(text)) continue;
    let emptyContinuation = false;
    while (!ended && i < lines.length) {
      const raw = lines[i]!;
      i++;
      const t = raw.trimStart();
      if (isComment(t)) continue;
      if (t === '') {
        emptyContinuation = true;
        continue;
      }
      let part: string;
      [part, ended] = trim(raw);
      text += part;
    }
    const range: SourceRange = { startLine: lineNo, endLine: i };
    if (emptyContinuation) {
      diagnostics.push({
        rule: 'NoEmptyContinuation',
        severity: 'warning',
        message: 'Empty continuation line found in: ' + text.trim().slice(0, 80),
        range: { ...range },
        url: 'https://docs.docker.com/go/dockerfile/rule/no-empty-continuation/',
      });
    }
    const heredocs: Heredoc[] = [];
    if (text.includes('<<') && canContainHeredoc(text, escape)) {
      for (const h of heredocsFromLine(text)) {
        let terminated = false;
        const body: string[] = [];
        while (i < lines.length) {
          const raw = lines[i]!;
          i++;
          const candidate = h.chomp ? raw.replace(/^\t+/, '') : raw;
          if (candidate === h.name) {
            terminated = true;
            break;
          }
          body.push(raw + '\n');
        }
        if (!terminated) {
          throw new TbuildError('TB_PARSE_HEREDOC', `unterminated heredoc ${h.name}: no line with the delimiter "${h.name}" found`, {
            range: { startLine: lineNo, endLine: Math.max(lineNo, i) },
            file,
            details: { heredoc: h.name },
          });
        }
        const content = body.join('');
        heredocs.push({ ...h, content: h.chomp ? chompTabs(content) : content });
      }
      range.endLine = i;
    }
    out.push({ text: text.trim(), range, heredocs });
  }
  return { lines: out, diagnostics };
}
