import type { ProgressMode } from '../../build/types.js';
import { PlainRenderer, QuietRenderer, RawJsonRenderer, type ProgressRenderer } from './plain.js';
import { TtyRenderer } from './tty.js';

export type { ProgressRenderer } from './plain.js';

/** `auto` is the live view on a terminal and plain text otherwise. */
export function createRenderer(mode: ProgressMode, out: NodeJS.WritableStream): ProgressRenderer {
  const isTty = Boolean((out as { isTTY?: boolean }).isTTY);
  switch (mode) {
    case 'quiet':
      return new QuietRenderer();
    case 'rawjson':
      return new RawJsonRenderer(out);
    case 'plain':
      return new PlainRenderer(out);
    case 'tty':
      return isTty ? new TtyRenderer(out) : new PlainRenderer(out);
    case 'auto':
      return isTty && process.env.TERM !== 'dumb' ? new TtyRenderer(out) : new PlainRenderer(out);
  }
}
