import type { ProgressEvent } from '../../build/types.js';
import type { Digest } from '../../util/digest.js';

export interface ProgressRenderer {
  event(e: ProgressEvent): void;
  /** Flush what is pending (the tty view draws its final frame). */
  done(): void;
}

const secs = (ms: number): string => (ms / 1000).toFixed(1);

/**
 * BuildKit's plain output: `#N name`, each output line as `#N 0.123 text`, then `#N CACHED`,
 * `#N DONE 0.4s` or `#N ERROR: …`. Vertices are numbered in the order they first appear.
 */
export class PlainRenderer implements ProgressRenderer {
  readonly #out: NodeJS.WritableStream;
  readonly #ids = new Map<Digest, number>();
  readonly #started = new Map<Digest, number>();
  readonly #partial = new Map<Digest, string>();
  #last: Digest | undefined;
  readonly #warnings: string[] = [];

  constructor(out: NodeJS.WritableStream) {
    this.#out = out;
  }

  #num(id: Digest, name: string): number {
    let n = this.#ids.get(id);
    if (n === undefined) {
      n = this.#ids.size + 1;
      this.#ids.set(id, n);
      this.#header(id, n, name);
    }
    return n;
  }

  #header(id: Digest, n: number, name: string): void {
    if (this.#last !== id) {
      this.#out.write(`\n#${n} ${name}\n`);
      this.#last = id;
    }
  }

  event(e: ProgressEvent): void {
    switch (e.type) {
      case 'vertex': {
        const v = e.vertex;
        if (v.name.startsWith('[internal] scratch')) return;
        const n = this.#num(v.id, v.name);
        if (v.started !== undefined && !this.#started.has(v.id)) this.#started.set(v.id, v.started);
        if (v.completed === undefined) return;
        this.#header(v.id, n, v.name);
        this.#flushPartial(v.id, n);
        if (v.cached) this.#out.write(`#${n} CACHED\n`);
        else if (v.error) this.#out.write(`#${n} ERROR: ${v.error}\n`);
        else this.#out.write(`#${n} DONE ${secs(v.completed - (v.started ?? v.completed))}s\n`);
        return;
      }
      case 'log': {
        const n = this.#ids.get(e.vertex);
        if (n === undefined) return;
        const start = this.#started.get(e.vertex) ?? e.timestamp;
        const text = (this.#partial.get(e.vertex) ?? '') + Buffer.from(e.data).toString('utf8');
        const lines = text.split('\n');
        this.#partial.set(e.vertex, lines.pop() ?? '');
        if (!lines.length) return;
        if (this.#last !== e.vertex) {
          this.#out.write(`\n`);
          this.#last = e.vertex;
        }
        const t = ((e.timestamp - start) / 1000).toFixed(3);
        for (const l of lines) this.#out.write(`#${n} ${t} ${l}\n`);
        return;
      }
      case 'status':
        return;
      case 'warning':
        this.#warnings.push(`${e.message}${e.line ? ` (line ${e.line})` : ''}`);
        return;
    }
  }

  #flushPartial(id: Digest, n: number): void {
    const rest = this.#partial.get(id);
    if (rest) this.#out.write(`#${n} ${rest}\n`);
    this.#partial.delete(id);
  }

  /** Warnings come last, as BuildKit lists them after the steps. */
  done(): void {
    for (const [id, n] of this.#ids) this.#flushPartial(id, n);
    if (this.#warnings.length) {
      const n = this.#warnings.length;
      this.#out.write(`\n ${n} warning${n === 1 ? '' : 's'} found:\n${this.#warnings.map((w) => ` - ${w}\n`).join('')}`);
      this.#warnings.length = 0;
    }
  }
}

/** One JSON object per event and line; log data as UTF-8 text. */
export class RawJsonRenderer implements ProgressRenderer {
  readonly #out: NodeJS.WritableStream;
  constructor(out: NodeJS.WritableStream) {
    this.#out = out;
  }
  event(e: ProgressEvent): void {
    const obj = e.type === 'log' ? { ...e, data: Buffer.from(e.data).toString('utf8') } : e;
    this.#out.write(JSON.stringify(obj) + '\n');
  }
  done(): void {}
}

export class QuietRenderer implements ProgressRenderer {
  event(): void {}
  done(): void {}
}
