import { parseDockerfile } from '../../../src/parser/parse.js';
import { runChecks, type CheckOptions } from '../../../src/parser/checks/index.js';
import type { Diagnostic } from '../../../src/parser/types.js';

/** Parse and check; the text loses one leading newline so test literals can start on their own line. */
export function lint(text: string, opts: CheckOptions = {}): Diagnostic[] {
  return runChecks(parseDockerfile(text.replace(/^\n/, ''), { file: 'Dockerfile' }), opts);
}

/** `Rule@line: message` for compact assertions, optionally only for one rule. */
export function findings(text: string, rule?: string, opts: CheckOptions = {}): string[] {
  return lint(text, opts)
    .filter((d) => rule === undefined || d.rule === rule)
    .map((d) => `${d.rule}@${d.range?.startLine ?? 0}: ${d.message}`);
}
