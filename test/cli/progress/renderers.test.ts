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

  test('rawjson: one JSON event per line', () => {
    const c = capture();
    const r = new RawJsonRenderer(c.out);
    for (const e of events) r.event(e);
    const lines = c.text().trim().split('\n').map((l) => JSON.parse(l) as { type: string; data?: string });
    expect(lines).toHaveLength(events.length);
    expect(lines[1]).toMatchObject({ type: 'log', data: 'hi\npart' });
  });

  test('auto and tty fall back to plain when the output is not a terminal', () => {
    const c = capture();
    expect(createRenderer('auto', c.out)).toBeInstanceOf(PlainRenderer);
    expect(createRenderer('tty', c.out)).toBeInstanceOf(PlainRenderer);
  });
});
