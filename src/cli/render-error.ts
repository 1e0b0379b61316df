import { isTbuildError } from '../errors.js';

export interface RenderOptions {
  debug?: boolean;
}

/**
 * Turn any thrown value into the text the CLI prints. Errors with a Dockerfile range are shown
 * like BuildKit: the file and line, the lines around it, `>>>` on the failing ones.
 * (The parser owner extends this with source snippets; see src/parser/render.ts.)
 */
export function renderError(err: unknown, opts: RenderOptions = {}): string {
  if (isTbuildError(err)) {
    let out = `ERROR: ${err.message}\n`;
    if (opts.debug && err.stack) out += err.stack + '\n';
    return out;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  return `ERROR: ${e.message}\n${opts.debug && e.stack ? e.stack + '\n' : ''}`;
}
