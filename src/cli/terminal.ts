import type { Readable } from 'node:stream';
import type { TtySize } from '../exec/types.js';
import { parseDetachKeys, watchDetachKeys } from '../util/detach-keys.js';

/**
 * The local terminal of `run -it`, `exec -it` and `attach`, as the Docker CLI handles it: raw mode
 * (every key, Ctrl-C and Ctrl-D included, goes to the container; nothing echoes twice), the
 * detach keys watched on the way, the size sent at start and on each SIGWINCH, and the terminal
 * restored however the command ends.
 */
export interface LocalTerminal {
  /** What to forward as the container's stdin (absent without -i). */
  stdin?: Readable;
  /** The local terminal's size when a tty is asked for and stdout is one. */
  size?: TtySize;
  /** Resolves when the user typed the detach keys. */
  detached: Promise<void>;
  onResize(fn: (size: TtySize) => void): void;
  restore(): void;
}

function currentSize(): TtySize | undefined {
  const out = process.stdout;
  return out.isTTY && out.rows && out.columns ? { height: out.rows, width: out.columns } : undefined;
}

export function openTerminal(opts: { tty: boolean; interactive: boolean; detachKeys?: string }): LocalTerminal {
  let detach: () => void = () => {};
  const detached = new Promise<void>((resolve) => (detach = resolve));
  // checked whenever given (a typo is an error), watched only where Docker watches them: -it
  const parsed = parseDetachKeys(opts.detachKeys);
  const keys = opts.tty && opts.interactive ? parsed : undefined;
  const input = process.stdin;
  const raw = opts.tty && opts.interactive && input.isTTY;
  let restored = false;
  const resizeListeners: Array<() => void> = [];
  const restore = () => {
    if (restored) return;
    restored = true;
    if (raw) input.setRawMode(false);
    for (const l of resizeListeners) process.stdout.off('resize', l);
    process.off('exit', restore);
  };
  if (raw) {
    input.setRawMode(true);
    process.on('exit', restore);
  }
  let stdin: Readable | undefined;
  if (opts.interactive) stdin = keys ? watchDetachKeys(input, keys, detach) : input;
  const size = opts.tty ? currentSize() : undefined;
  return {
    ...(stdin ? { stdin } : {}),
    ...(size ? { size } : {}),
    detached,
    onResize(fn) {
      if (!opts.tty || !process.stdout.isTTY) return;
      const l = () => {
        const s = currentSize();
        if (s) fn(s);
      };
      resizeListeners.push(l);
      process.stdout.on('resize', l);
    },
    restore,
  };
}

/**
 * Pass SIGINT, SIGTERM and SIGHUP on to the container instead of dying of them (Docker's
 * --sig-proxy), so an interrupted `run --rm` stops, and is removed, rather than running on.
 * Returns the function that stops forwarding.
 */
export function proxySignals(forward: (signal: NodeJS.Signals) => void): () => void {
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const handlers = signals.map((s) => [s, () => forward(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  return () => {
    for (const [s, h] of handlers) process.off(s, h);
  };
}
