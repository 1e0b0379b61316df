import { open, stat, type FileHandle } from 'node:fs/promises';
import { watch } from 'node:fs';
import type { LogEntry, LogOptions } from './types.js';

/** RFC 3339 with nanoseconds, as Docker's json-file driver writes it. */
export function logTime(now = Date.now(), hr = process.hrtime.bigint()): string {
  const iso = new Date(now).toISOString(); // …T11:30:00.123Z
  const nanos = String(hr % 1_000_000n).padStart(6, '0');
  return `${iso.slice(0, -1)}${nanos}Z`;
}

/** Seconds since the epoch (fractional) of a json-file timestamp. */
export function timeSeconds(time: string): number {
  const m = /^(.*\.\d{3})(\d*)Z$/.exec(time);
  if (!m) return Date.parse(time) / 1000;
  return Date.parse(m[1] + 'Z') / 1000 + Number(`0.000${m[2] || '0'}`);
}

/**
 * Appends one stream's output as json-file lines. Output is split at newlines; a partial line is
 * held until its newline, the stream ends, or it grows past 16 KiB (Docker's split size).
 */
export class JsonLogWriter {
  readonly #fh: FileHandle;
  readonly #partial: Record<'stdout' | 'stderr', Buffer> = { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };
  #queue: Promise<void> = Promise.resolve();

  private constructor(fh: FileHandle) {
    this.#fh = fh;
  }

  static async open(path: string): Promise<JsonLogWriter> {
    return new JsonLogWriter(await open(path, 'a', 0o640));
  }

  write(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    let buf = Buffer.concat([this.#partial[stream], chunk]);
    const lines: string[] = [];
    for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10)) {
      lines.push(this.#line(stream, buf.subarray(0, i + 1)));
      buf = buf.subarray(i + 1);
    }
    while (buf.length >= 16384) {
      lines.push(this.#line(stream, buf.subarray(0, 16384)));
      buf = buf.subarray(16384);
    }
    this.#partial[stream] = Buffer.from(buf);
    if (lines.length) this.#append(lines.join(''));
  }

  /** Write out partial lines. */
  flush(): void {
    const lines: string[] = [];
    for (const s of ['stdout', 'stderr'] as const) {
      if (this.#partial[s].length) lines.push(this.#line(s, this.#partial[s]));
      this.#partial[s] = Buffer.alloc(0);
    }
    if (lines.length) this.#append(lines.join(''));
  }

  async close(): Promise<void> {
    this.flush();
    await this.#queue;
    await this.#fh.close();
  }

  #line(stream: string, data: Buffer): string {
    return JSON.stringify({ log: data.toString('utf8'), stream, time: logTime() }) + '\n';
  }

  #append(text: string): void {
    this.#queue = this.#queue.then(() => this.#fh.appendFile(text).then(() => {}));
  }
}

function parse(line: string): LogEntry | undefined {
  try {
    const e = JSON.parse(line) as LogEntry;
    return typeof e.log === 'string' ? e : undefined;
  } catch {
    return undefined;
  }
}

function keep(e: LogEntry, opts: LogOptions): boolean {
  if (e.stream === 'stdout' && opts.stdout === false) return false;
  if (e.stream === 'stderr' && opts.stderr === false) return false;
  if (opts.since || opts.until) {
    const t = timeSeconds(e.time);
    if (opts.since && t < opts.since) return false;
    if (opts.until && t > opts.until) return false;
  }
  return true;
}

/**
 * Read a json-file log: filtered, `tail` lines from the end, then (with `follow`) new lines as they
 * are appended until `running()` says the writer is gone and the file has been read to its end.
 */
export async function* readJsonLog(
  path: string,
  opts: LogOptions,
  running: () => Promise<boolean>,
  signal?: AbortSignal,
): AsyncGenerator<LogEntry> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch {
    if (!opts.follow) return;
    fh = await open(path, 'a+');
  }
  try {
    let pos = 0;
    let rest = '';
    const readNew = async (): Promise<LogEntry[]> => {
      const { size } = await fh.stat();
      if (size <= pos) return [];
      const buf = Buffer.alloc(size - pos);
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      pos += bytesRead;
      const text = rest + buf.subarray(0, bytesRead).toString('utf8');
      const lines = text.split('\n');
      rest = lines.pop() ?? '';
      return lines.map(parse).filter((e): e is LogEntry => !!e && keep(e, opts));
    };
    let first = await readNew();
    if (opts.tail !== undefined && opts.tail !== 'all' && opts.tail >= 0) first = opts.tail === 0 ? [] : first.slice(-opts.tail);
    yield* first;
    if (!opts.follow) return;
    while (!signal?.aborted) {
      const more = await readNew();
      yield* more;
      if (more.length) continue;
      if (!(await running())) {
        yield* await readNew();
        return;
      }
      await changeOrTimeout(path, 250, signal);
    }
  } finally {
    await fh.close();
  }
}

function changeOrTimeout(path: string, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    let w: ReturnType<typeof watch> | undefined;
    const done = () => {
      clearTimeout(t);
      w?.close();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    try {
      w = watch(path, done);
      w.on('error', done);
    } catch {
      // polling alone is fine
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

export async function logSize(path: string): Promise<number> {
  return (await stat(path).catch(() => undefined))?.size ?? 0;
}
