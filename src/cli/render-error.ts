import { isTbuildError } from '../errors.js';
import { lookupSource, renderSnippet } from '../parser/render.js';

export interface RenderOptions {
  debug?: boolean;
}

/**
 * Turn any thrown value into the text the CLI prints. Errors with a Dockerfile range are shown
 * like BuildKit: the file and line, the lines around it, `>>>` on the failing ones, then
 * `ERROR: …`. The source comes from `err.details.source`, else from the sources the parser saw.
 */
export function renderError(err: unknown, opts: RenderOptions = {}): string {
  if (isTbuildError(err)) {
    let out = '';
    if (err.range) {
      const file = err.file ?? 'Dockerfile';
      const src = typeof err.details.source === 'string' ? err.details.source : lookupSource(file);
      if (src !== undefined) out += renderSnippet(src, err.range, file);
    }
    out += `ERROR: ${err.message}\n`;
    if (opts.debug && err.stack) out += err.stack + '\n';
    return out;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  return `ERROR: ${e.message}\n${opts.debug && e.stack ? e.stack + '\n' : ''}`;
}
