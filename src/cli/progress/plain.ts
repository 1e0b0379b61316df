import { ruleUrlOf } from '../../parser/checks/types.js';
import type { ProgressEvent } from '../../build/types.js';
import type { Digest } from '../../util/digest.js';
import { statusBytes, statusTime, trackStatus, type StatusLine } from './status-line.js';

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
  readonly #names = new Map<Digest, string>();
  readonly #statuses = new Map<Digest, Map<string, StatusLine>>();
  #last: Digest | undefined;
  readonly #warnings: string[] = [];
  readonly #now: () => number;

  constructor(out: NodeJS.WritableStream, now: () => number = Date.now) {
    this.#out = out;
    this.#now = now;
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
        this.#names.set(v.id, v.name);
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
        this.#status(e);
        return;
      case 'warning':
        this.#warnings.push(`${e.message}${e.line ? ` (line ${e.line})` : ''}`);
        return;
    }
  }

  /**
   * `#N id bytes time done`, as BuildKit's plain printer: a line when it completes, and while it
   * runs when it moved 5% of its total or 5 s passed since it was last printed (a line without a
   * total shows only its progress every 5 s and its end).
   */
  #status(e: Extract<ProgressEvent, { type: 'status' }>): void {
    const n = this.#ids.get(e.vertex);
    if (n === undefined) return;
    let lines = this.#statuses.get(e.vertex);
    if (!lines) this.#statuses.set(e.vertex, (lines = new Map()));
    const wasDone = lines.get(e.id)?.completed !== undefined;
    const now = this.#now();
    const s = trackStatus(lines, e, now);
    if (wasDone) return;
    const done = s.completed !== undefined;
    if (!done) {
      const p = s.printed;
      const moved = s.total ? (s.current - (p?.current ?? -Infinity)) / s.total >= 0.05 : false;
      if (!moved && now - (p?.at ?? s.first) < 5000) return;
    }
    s.printed = { at: now, current: s.current };
    this.#header(e.vertex, n, this.#names.get(e.vertex) ?? '');
    const detail = [statusBytes(s), statusTime(s, now), done ? 'done' : ''].filter(Boolean).join(' ');
    this.#out.write(`#${n} ${s.id}${detail ? ` ${detail}` : ''}
`);
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
/**
 * `--progress rawjson`: one BuildKit SolveStatus per line, as buildctl and buildx print it (the Go
 * client's JSON: `vertexes`, `statuses`, `logs` with base64 `data`, `warnings`; times in RFC 3339),
 * so tools written for BuildKit's stream read tbuild's.
 */
export class RawJsonRenderer implements ProgressRenderer {
  readonly #out: NodeJS.WritableStream;
  /** When each status line (a transfer, a pull) was first seen: BuildKit reports its start. */
  readonly #statusStarted = new Map<string, number>();
  constructor(out: NodeJS.WritableStream) {
    this.#out = out;
  }
  event(e: ProgressEvent): void {
    this.#out.write(JSON.stringify(this.#solveStatus(e)) + '\n');
  }
  /** Only the non-empty lists, as BuildKit's (its SolveStatus fields are `omitempty`). */
  #solveStatus(e: ProgressEvent): Record<string, unknown> {
    const status: { vertexes?: unknown; statuses?: unknown; logs?: unknown; warnings?: unknown } = {};
    const time = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
    switch (e.type) {
      case 'vertex': {
        const v = e.vertex;
        status.vertexes = [
          {
            digest: v.id,
            ...(v.inputs.length ? { inputs: v.inputs } : {}),
            name: v.name,
            ...(v.started !== undefined ? { started: time(v.started) } : {}),
            ...(v.completed !== undefined ? { completed: time(v.completed) } : {}),
            ...(v.cached ? { cached: true } : {}),
            ...(v.error ? { error: v.error } : {}),
          },
        ];
        break;
      }
      case 'log':
        status.logs = [{ vertex: e.vertex, stream: e.stream === 'stdout' ? 1 : 2, data: Buffer.from(e.data).toString('base64'), timestamp: time(e.timestamp) }];
        break;
      case 'status': {
        const key = `${e.vertex}\0${e.id}`;
        const now = Date.now();
        if (!this.#statusStarted.has(key)) this.#statusStarted.set(key, now);
        status.statuses = [
          {
            id: e.id,
            vertex: e.vertex,
            ...(e.name ? { name: e.name } : {}),
            ...(e.total ? { total: Math.round(e.total) } : {}),
            current: Math.round(e.current),
            timestamp: time(now),
            started: time(this.#statusStarted.get(key)),
            ...(e.completed ? { completed: time(now) } : {}),
          },
        ];
        break;
      }
      case 'warning': {
        const text = e.rule && !e.message.startsWith(`${e.rule}:`) ? `${e.rule}: ${e.message}` : e.message;
        status.warnings = [{ level: 1, short: Buffer.from(e.line ? `${text} (line ${e.line})` : text).toString('base64'), ...(e.rule ? { url: ruleUrlOf(e.rule) } : {}) }];
        break;
      }
    }
    return status;
  }
  done(): void {}
}

export class QuietRenderer implements ProgressRenderer {
  event(): void {}
  done(): void {}
}
