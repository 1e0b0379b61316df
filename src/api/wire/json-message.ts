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

/** Writes JSON messages one per line; stops quietly once the client has gone. */
export class JsonMessageWriter {
  #out: Writable;

  constructor(out: Writable) {
    this.#out = out;
  }

  write(msg: JsonMessage): void {
    if (this.#out.destroyed || this.#out.writableEnded) return;
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
