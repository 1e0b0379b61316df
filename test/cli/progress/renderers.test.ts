import { describe, test, expect } from 'vitest';
import { PassThrough } from 'node:stream';
import { PlainRenderer, RawJsonRenderer } from '../../../src/cli/progress/plain.js';
import { createRenderer } from '../../../src/cli/progress/index.js';
import { TtyRenderer } from '../../../src/cli/progress/tty.js';
import { sha256 } from '../../../src/util/digest.js';
import type { ProgressEvent } from '../../../src/build/types.js';

function capture(): { out: PassThrough; text: () => string } {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (d: Buffer) => chunks.push(d));
  return { out, text: () => Buffer.concat(chunks).toString() };
}

const a = sha256('a');
const b = sha256('b');
const events: ProgressEvent[] = [
  { type: 'vertex', vertex: { id: a, name: '[1/3] RUN echo hi', inputs: [], started: 1000 } },
  { type: 'log', vertex: a, stream: 'stdout', data: Buffer.from('hi\npart'), timestamp: 1123 },
  { type: 'vertex', vertex: { id: a, name: '[1/3] RUN echo hi', inputs: [], started: 1000, completed: 1400, cached: false } },
  { type: 'vertex', vertex: { id: b, name: '[2/3] COPY a /a', inputs: [a], started: 1500, completed: 1500, cached: true } },
];

describe('progress renderers', () => {
  test('plain: BuildKit-style numbered steps, timed output lines, CACHED and DONE', () => {
    const c = capture();
    const r = new PlainRenderer(c.out);
    for (const e of events) r.event(e);
    r.done();
    const text = c.text();
    expect(text).toContain('#1 [1/3] RUN echo hi\n');
    expect(text).toContain('#1 0.123 hi\n');
    expect(text).toContain('#1 part\n');
    expect(text).toContain('#1 DONE 0.4s\n');
    expect(text).toContain('#2 [2/3] COPY a /a\n#2 CACHED\n');
  });

  test("plain: a step's status lines as BuildKit prints them: bytes, time, done; a pull's progress every 5% or 5 s", () => {
    const c = capture();
    let now = 10_000;
    const r = new PlainRenderer(c.out, () => now);
    const pull = sha256('pull');
    r.event({ type: 'vertex', vertex: { id: pull, name: '[1/2] FROM r/x:1', inputs: [], started: now } });
    const layer = (current: number, completed?: boolean): ProgressEvent => ({ type: 'status', vertex: pull, id: 'sha256:1111', name: 'sha256:1111', current, total: 3_400_000, ...(completed ? { completed } : {}) });
    r.event(layer(0));
    now += 100;
    r.event(layer(100_000)); // 3%: not yet
    now += 100;
    r.event(layer(1_200_000)); // 35%
    now += 100;
    r.event(layer(1_250_000)); // 1% more: not yet
    r.event({ type: 'vertex', vertex: { id: a, name: '[2/2] RUN x', inputs: [], started: now } });
    now += 200;
    r.event(layer(3_400_000, true));
    r.event(layer(3_400_000, true)); // once done, never again
    const exp = sha256('export');
    r.event({ type: 'vertex', vertex: { id: exp, name: 'exporting to image', inputs: [], started: now } });
    r.event({ type: 'status', vertex: exp, id: 'writing image sha256:abc', name: 'writing image sha256:abc', current: 0, completed: true });
    r.event({ type: 'status', vertex: exp, id: 'transferring context:', name: 'transferring context:', current: 59, completed: true });
    expect(c.text()).toBe(
      '\n#1 [1/2] FROM r/x:1\n#1 sha256:1111 0B / 3.40MB\n#1 sha256:1111 1.20MB / 3.40MB 0.2s\n' +
        '\n#2 [2/2] RUN x\n' +
        '\n#1 [1/2] FROM r/x:1\n#1 sha256:1111 3.40MB / 3.40MB 0.5s done\n' +
        '\n#3 exporting to image\n#3 writing image sha256:abc done\n#3 transferring context: 59B done\n',
    );
  });

  test('tty: status lines are rows under their step (a layer\'s bytes, writing image, naming to)', () => {
    const c = capture();
    const r = new TtyRenderer(c.out);
    const exp = sha256('export');
    r.event({ type: 'vertex', vertex: { id: exp, name: 'exporting to image', inputs: [], started: Date.now() } });
    r.event({ type: 'status', vertex: exp, id: 'sha256:2222', name: 'sha256:2222', current: 1_500_000, total: 3_000_000 });
    r.event({ type: 'status', vertex: exp, id: 'naming to docker.io/library/x:latest', name: 'naming to docker.io/library/x:latest', current: 0, completed: true });
    r.done();
    const text = c.text();
    expect(text).toMatch(/ => => sha256:2222 1\.50MB \/ 3\.00MB/);
    expect(text).toMatch(/ => => naming to docker\.io\/library\/x:latest +0\.0s/);
  });

  test('plain: warnings are listed after the steps', () => {
    const c = capture();
    const r = new PlainRenderer(c.out);
    r.event({ type: 'warning', message: 'JSONArgsRecommended: use JSON', rule: 'JSONArgsRecommended', line: 3 });
    for (const e of events) r.event(e);
    r.done();
    const text = c.text();
    expect(text.indexOf('1 warning found')).toBeGreaterThan(text.indexOf('#2 CACHED'));
    expect(text).toContain(' - JSONArgsRecommended: use JSON (line 3)\n');
  });

  test("rawjson: one BuildKit SolveStatus per line, in the Go client's field names", () => {
    const c = capture();
    const r = new RawJsonRenderer(c.out);
    for (const e of events) r.event(e);
    r.event({ type: 'status', vertex: a, id: 'transferring context:', name: 'transferring context:', current: 10, total: 20 });
    r.event({ type: 'warning', message: 'use JSON', rule: 'JSONArgsRecommended', line: 3 });
    type Status = { vertexes?: Array<Record<string, unknown>>; statuses?: Array<Record<string, unknown>>; logs?: Array<{ vertex: string; stream: number; data: string; timestamp: string }>; warnings?: Array<{ level: number; short: string; url?: string }> };
    const lines = c.text().trim().split('\n').map((l) => JSON.parse(l) as Status);
    expect(lines).toHaveLength(events.length + 2);
    // one kind per line here, and only the lists that have entries (BuildKit's fields are omitempty)
    for (const l of lines) expect(Object.keys(l)).toHaveLength(1);
    const log = lines.find((l) => l.logs)!.logs![0]!;
    expect(Buffer.from(log.data, 'base64').toString()).toBe('hi\npart');
    expect(log.stream).toBe(1);
    expect(Number.isNaN(Date.parse(log.timestamp))).toBe(false);
    const vertex = lines.find((l) => l.vertexes)!.vertexes![0]!;
    expect(Object.keys(vertex)).toEqual(expect.arrayContaining(['digest', 'name']));
    expect(vertex).not.toHaveProperty('id');
    const st = lines.at(-2)!.statuses![0]!;
    expect(st).toMatchObject({ id: 'transferring context:', current: 10, total: 20 });
    const w = lines.at(-1)!.warnings![0]!;
    expect(Buffer.from(w.short, 'base64').toString()).toBe('JSONArgsRecommended: use JSON (line 3)');
    expect(w.url).toBe('https://docs.docker.com/go/dockerfile/rule/json-args-recommended/');
  });

  test('auto and tty fall back to plain when the output is not a terminal', () => {
    const c = capture();
    expect(createRenderer('auto', c.out)).toBeInstanceOf(PlainRenderer);
    expect(createRenderer('tty', c.out)).toBeInstanceOf(PlainRenderer);
  });
});
