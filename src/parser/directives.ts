import { TbuildError } from '../errors.js';
import type { Directives } from './types.js';

/** `# key=value` at the very top of a Dockerfile (BuildKit's directive syntax). */
// The value is trimmed in code: a lazy `(.+?)\s*$` backtracks quadratically on long blank runs.
const DIRECTIVE_RE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=(.*)$/;
const KNOWN = new Set(['syntax', 'escape', 'check']);

export interface DirectiveScan {
  directives: Directives;
  /** 0-based index of the first line that is not a directive. */
  end: number;
}

/**
 * Reads parser directives from the top of the file. Scanning stops at the first line that is not
 * a known directive (a blank line, an ordinary comment, an unknown directive or an instruction):
 * after that a `# escape=` is just a comment, as in BuildKit.
 */
export function scanDirectives(lines: readonly string[], file?: string): DirectiveScan {
  const directives: Directives = { escape: '\\' };
  const seen = new Set<string>();
  let i = 0;
  for (; i < lines.length; i++) {
    const m = DIRECTIVE_RE.exec(lines[i]!.trimStart());
    const value = m?.[2]!.trim();
    if (!m || !value) break;
    const key = m[1]!.toLowerCase();
    if (!KNOWN.has(key)) break;
    const range = { startLine: i + 1, endLine: i + 1 };
    if (seen.has(key)) {
      throw new TbuildError('TB_PARSE_DIRECTIVE', `only one ${key} parser directive can be used`, { range, file });
    }
    seen.add(key);
    if (key === 'escape') {
      if (value !== '\\' && value !== '`') {
        throw new TbuildError('TB_PARSE_DIRECTIVE', `invalid escape token '${value}' does not match \` or \\`, { range, file });
      }
      directives.escape = value;
    } else if (key === 'syntax') {
      directives.syntax = value;
    } else {
      directives.check = value;
    }
  }
  return { directives, end: i };
}
