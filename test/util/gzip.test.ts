import { expect, test } from 'vitest';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { layerGzip } from '../../src/util/gzip.js';

async function gzipped(parts: Buffer[]): Promise<{ out: Buffer; reported: number }> {
  let reported = 0;
  const chunks: Buffer[] = [];
  for await (const c of layerGzip(Readable.from(parts), (n) => (reported += n))) chunks.push(c as Buffer);
  return { out: Buffer.concat(chunks), reported };
}

function cut(data: Buffer, size: number): Buffer[] {
  const parts: Buffer[] = [];
  for (let off = 0; off < data.length; off += size) parts.push(data.subarray(off, off + size));
  return parts;
}

// blocks of text (deflated) and of noise (stored), several more than are deflated at once
const text = Buffer.from('a line of a layer that compresses well, over and over. '.repeat(40_000));
const layer = Buffer.concat([text, randomBytes(3 << 20), text, randomBytes(100_000), text.subarray(0, 12_345)]);

test('a layer gzips to one member that gunzips to it, the same bytes however its input comes', async () => {
  const whole = await gzipped([layer]);
  expect(gunzipSync(whole.out).equals(layer)).toBe(true);
  expect(whole.reported).toBe(layer.length);
  // text shrinks; noise is stored, not grown beyond its framing
  expect(whole.out.length).toBeLessThan(layer.length - 2 * text.length + 200_000);
  for (const size of [4096, 65_536, 1_500_000]) {
    const again = await gzipped(cut(layer, size));
    expect(again.out.equals(whole.out), `input in pieces of ${size}`).toBe(true);
  }
});

test('an empty layer is an empty gzip member', async () => {
  const { out } = await gzipped([]);
  expect(gunzipSync(out).length).toBe(0);
});
