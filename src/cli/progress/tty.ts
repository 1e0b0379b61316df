import type { ProgressEvent, VertexStatus } from '../../build/types.js';
import type { Digest } from '../../util/digest.js';
import type { ProgressRenderer } from './plain.js';
import { statusBytes, statusTime, trackStatus, type StatusLine } from './status-line.js';

const ESC = '\x1b[';
const LOG_LINES = 6;

interface Row {
  n: number;
  status: VertexStatus;
  logs: string[];
  partial: string;
  statuses: Map<string, StatusLine>;
}

/** A live view redrawn in place: one line per step with its time, the last lines of running steps. */
export class TtyRenderer implements ProgressRenderer {
  readonly #out: NodeJS.WritableStream & { columns?: number };
  readonly #rows = new Map<Digest, Row>();
  readonly #warnings: string[] = [];
  readonly #start = Date.now();
  #drawn = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(out: NodeJS.WritableStream) {
    this.#out = out;
    this.#timer = setInterval(() => this.#draw(), 150);
    this.#timer.unref();
  }

  event(e: ProgressEvent): void {
    if (e.type === 'vertex') {
      if (e.vertex.name.startsWith('[internal] scratch')) return;
      const row = this.#rows.get(e.vertex.id);
      if (row) row.status = { ...row.status, ...e.vertex };
      else this.#rows.set(e.vertex.id, { n: this.#rows.size + 1, status: e.vertex, logs: [], partial: '', statuses: new Map() });
    } else if (e.type === 'log') {
      const row = this.#rows.get(e.vertex);
      if (!row) return;
      const lines = (row.partial + Buffer.from(e.data).toString('utf8')).split('\n');
      row.partial = lines.pop() ?? '';
      row.logs.push(...lines);
      if (row.logs.length > LOG_LINES) row.logs.splice(0, row.logs.length - LOG_LINES);
    } else if (e.type === 'status') {
      const row = this.#rows.get(e.vertex);
      if (row) trackStatus(row.statuses, e, Date.now());
    } else if (e.type === 'warning') {
      this.#warnings.push(e.message);
    }
  }

  #line(s: string): string {
    const width = Math.max(40, this.#out.columns || 100);
    return s.length > width - 1 ? s.slice(0, width - 2) + '…' : s;
  }

  /** ` => name ……… 1.2s`: the name is cut to fit so the state stays visible at the right. */
  #row(name: string, state: string): string {
    const width = Math.max(40, this.#out.columns || 100) - 1;
    const room = width - state.length - 5;
    const shown = name.length > room ? name.slice(0, Math.max(0, room - 1)) + '…' : name;
    return ` => ${shown.padEnd(room)} ${state}`;
  }

  #draw(final = false): void {
    const now = Date.now();
    const lines: string[] = [`[+] Building ${((now - this.#start) / 1000).toFixed(1)}s (${[...this.#rows.values()].filter((r) => r.status.completed).length}/${this.#rows.size})${final ? ' FINISHED' : ''}`];
    for (const r of this.#rows.values()) {
      const s = r.status;
      const t = s.started !== undefined ? `${(((s.completed ?? now) - s.started) / 1000).toFixed(1)}s` : '';
      const state = s.cached ? 'CACHED' : s.error ? 'ERROR' : s.completed ? t : s.started !== undefined ? t : '';
      lines.push(this.#row(s.name, state));
      // BuildKit's sub-rows: a layer's bytes as it is pulled, `writing image …`, `naming to …`
      for (const st of r.statuses.values()) lines.push(this.#row(`=> ${st.id}${statusBytes(st) ? ` ${statusBytes(st)}` : ''}`, statusTime(st, now) || (st.completed !== undefined ? '0.0s' : '')));
      if (!s.completed && s.started !== undefined) for (const l of r.logs) lines.push(this.#line(` => => # ${l}`));
      if (s.error) lines.push(this.#line(` => ERROR: ${s.error}`));
    }
    for (const w of this.#warnings) lines.push(this.#line(`WARNING: ${w}`));
    // a frame taller than the screen cannot be redrawn in place: keep the header and the newest lines
    const rows = (this.#out as { rows?: number }).rows || 40;
    if (!final && lines.length > rows - 1) lines.splice(1, lines.length - (rows - 1));
    let text = this.#drawn ? `${ESC}${this.#drawn}A` : '';
    text += lines.map((l) => `${ESC}2K${l}\n`).join('');
    this.#out.write(text);
    this.#drawn = lines.length;
  }

  done(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#draw(true);
  }
}
