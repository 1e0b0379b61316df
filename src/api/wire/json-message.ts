import type { Writable } from 'node:stream';
import { familiarName as familiarReference, tryParseReference } from '../../images/reference.js';

/** One message of Docker's JSON-message stream (build, load, pull, import). */
export interface JsonMessage {
  stream?: string;
  status?: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  aux?: Record<string, unknown>;
  error?: string;
  errorDetail?: { code?: number; message: string };
}

/** Messages written within this many milliseconds go out together. */
const COALESCE_MS = 10;

/**
 * Writes JSON messages one per line; stops quietly once the client has gone. A pull's progress is
 * hundreds of messages a second, each a write that wakes the client: the stream is corked for
 * COALESCE_MS after a message, so those within it share one write (ending the stream flushes them).
 */
export class JsonMessageWriter {
  #out: Writable;
  #corked = false;

  constructor(out: Writable) {
    this.#out = out;
  }

  write(msg: JsonMessage): void {
    if (this.#out.destroyed || this.#out.writableEnded) return;
    if (!this.#corked) {
      this.#corked = true;
      this.#out.cork();
      setTimeout(() => {
        this.#corked = false;
        this.#out.uncork();
      }, COALESCE_MS);
    }
    this.#out.write(JSON.stringify(msg) + '\r\n');
  }

  stream(text: string): void {
    if (text) this.write({ stream: text });
  }

  error(message: string, code?: number): void {
    this.write({ errorDetail: code === undefined ? { message } : { code, message }, error: message });
  }
}

/**
 * `docker.io/library/busybox:latest` → `busybox:latest`, as Docker shows names. A name that is not
 * a valid reference (user input echoed in a message) is shown as given.
 */
export function familiarName(name: string): string {
  const ref = tryParseReference(name);
  return ref ? familiarReference(ref) : name;
}

/** A tag as given (`foo`) → with its default tag (`foo:latest`), for "Successfully tagged". */
export function withDefaultTag(ref: string): string {
  if (ref.includes('@')) return ref;
  const slash = ref.lastIndexOf('/');
  return ref.slice(slash + 1).includes(':') ? ref : `${ref}:latest`;
}

export { shortId } from '../../util/digest.js';
