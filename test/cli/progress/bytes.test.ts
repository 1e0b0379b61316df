import { describe, expect, test } from 'vitest';
import { PassThrough, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { byteMeter } from '../../../src/cli/progress/bytes.js';

function fakeTerminal(isTTY: boolean): Writable & { isTTY: boolean; text: () => string } {
  let text = '';
  const w = new Writable({
    write(chunk: Buffer, _e, cb) {
      text += chunk.toString();
      cb();
    },
  }) as Writable & { isTTY: boolean; text: () => string };
  w.isTTY = isTTY;
  w.text = () => text;
  return w;
}

async function run(out: ReturnType<typeof fakeTerminal>, opts: Parameters<typeof byteMeter>[2]): Promise<Buffer> {
  let clock = 0;
  const meter = byteMeter('Loading', out, { ...opts, intervalMs: 100, now: () => clock });
  const src = new PassThrough();
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(c: Buffer, _e, cb) {
      chunks.push(c);
      cb();
    },
  });
  const done = pipeline(src, meter.counter, sink);
  for (let i = 0; i < 4; i++) {
    clock += 500;
    src.write(Buffer.alloc(1_000_000, i));
    await new Promise((r) => setImmediate(r));
  }
  src.end();
  await done;
  meter.done();
  return Buffer.concat(chunks);
}

describe('byte progress for load, save and import', () => {
  test('on a terminal: done/total, percent, rate and ETA redrawn in place, then a final line', async () => {
    const tty = fakeTerminal(true);
    const data = await run(tty, { total: 4_000_000 });
    expect(data.length).toBe(4_000_000);
    const frames = tty.text().split('\r\x1b[2K').filter(Boolean);
    expect(frames[0]).toBe('Loading 1MB/4MB 25% 2MB/s ETA 2s');
    expect(frames.at(-1)).toBe('Loading 4MB/4MB 100% 2MB/s\n');
  });

  test('without a total: bytes and rate only', async () => {
    const tty = fakeTerminal(true);
    await run(tty, {});
    expect(tty.text().split('\r\x1b[2K').at(-1)).toBe('Loading 4MB 2MB/s\n');
  });

  test('not a terminal, or quiet: nothing at all, and every byte passes', async () => {
    for (const [out, opts] of [
      [fakeTerminal(false), {}],
      [fakeTerminal(true), { quiet: true }],
    ] as const) {
      const data = await run(out, opts);
      expect(data.length).toBe(4_000_000);
      expect(out.text()).toBe('');
    }
  });
});
