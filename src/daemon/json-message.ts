import type { Writable } from 'node:stream';

/** One message of Docker's JSON-message stream (build, load, pull, import). */
export interface JsonMessage {
  stream?: string;
  status?: string;
  id?: string;
  progress?: string;
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

/** `docker.io/library/busybox:latest` → `busybox:latest`, as Docker shows names. */
export function familiarName(name: string): string {
  if (name.startsWith('docker.io/library/')) return name.slice('docker.io/library/'.length);
  if (name.startsWith('docker.io/')) return name.slice('docker.io/'.length);
  return name;
}

/** A tag as given (`foo`) → with its default tag (`foo:latest`), for "Successfully tagged". */
export function withDefaultTag(ref: string): string {
  if (ref.includes('@')) return ref;
  const slash = ref.lastIndexOf('/');
  return ref.slice(slash + 1).includes(':') ? ref : `${ref}:latest`;
}

/** 12-hex short id of a digest or id. */
export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}
