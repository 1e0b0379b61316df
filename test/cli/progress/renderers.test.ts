import { describe, test, expect } from 'vitest';
import { PassThrough } from 'node:stream';
import { PlainRenderer, RawJsonRenderer } from '../../../src/cli/progress/plain.js';
import { createRenderer } from '../../../src/cli/progress/index.js';
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
