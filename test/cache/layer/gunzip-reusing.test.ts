import { expect, test } from 'vitest';
import { gunzipSync, gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { canGunzipReusing, gunzipReusing } from '../../../src/cache/layer/gunzip-reusing.js';
import { isTbuildError } from '../../../src/errors.js';

const noCheck = (): void => {};

async function* pieces(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let off = 0; off < buf.length; off += size) yield buf.subarray(off, off + size);
}

/** Every chunk copied as it comes (the reader reuses its memory), joined. */
async function inflate(input: Buffer, pieceSize: number, outSize?: number): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of gunzipReusing(pieces(input, pieceSize), noCheck, outSize)) out.push(Buffer.from(c));
  return Buffer.concat(out);
}

/** What Node's own gunzip makes of it: the bytes, or the error's message. */
function reference(input: Buffer): Buffer | string {
  try {
    return gunzipSync(input);
  } catch (err) {
    return (err as Error).message;
  }
}

async function ours(input: Buffer, pieceSize: number, outSize?: number): Promise<Buffer | string> {
  try {
    return await inflate(input, pieceSize, outSize);
  } catch (err) {
    expect(isTbuildError(err, 'TB_TAR_FORMAT')).toBe(true);
    return (err as Error).message.replace(/^gzip stream is corrupt: /, '');
  }
}

const text = Buffer.from('a layer of text, repeated until it compresses well. '.repeat(20_000));
const noise = randomBytes(300_000);
const gz = gzipSync(Buffer.concat([text, noise]));
const small = gzipSync(Buffer.alloc(1000, 'a'));

test('decodes what gunzipSync decodes, and refuses what it refuses, however the input is cut', async () => {
  const cases: Record<string, Buffer> = {
    'one member': gz,
    'two members back to back': Buffer.concat([gzipSync(text), gzipSync(noise)]),
    'an empty member': gzipSync(Buffer.alloc(0)),
    truncated: gz.subarray(0, gz.length - 100),
    'cut in the trailer': gz.subarray(0, gz.length - 3),
    'a bad CRC': Buffer.concat([gz.subarray(0, gz.length - 8), Buffer.from([1, 2, 3, 4]), gz.subarray(gz.length - 4)]),
    'trailing bytes': Buffer.concat([gz, Buffer.from('garbage!')]),
    'a corrupt body': Buffer.concat([gz.subarray(0, 200), Buffer.alloc(64, 0xff), gz.subarray(264)]),
    // NULs end the stream (tar padding after the gzip), whatever comes after them
    'NUL padding, then another member': Buffer.concat([small, Buffer.alloc(10), gzipSync(Buffer.alloc(500, 'b'))]),
    'NUL padding, then garbage': Buffer.concat([small, Buffer.alloc(10), Buffer.from('garbage!')]),
    'NUL padding': Buffer.concat([small, Buffer.alloc(1024)]),
  };
  for (const [name, input] of Object.entries(cases)) {
    const want = reference(input);
    // (cut anywhere, and right where the first small member ends)
    for (const piece of [1, 13, 64, small.length, small.length + 5, 1033, 4096, 65_536, input.length]) {
      if (piece < 100 && input.length > 100_000) continue; // a few bytes at a time: the small cases show it
      const got = await ours(input, piece, 4096);
      if (typeof want === 'string') expect(got, `${name}, pieces of ${piece}`).toBe(want);
      else expect(Buffer.isBuffer(got) && got.equals(want), `${name}, pieces of ${piece}`).toBe(true);
    }
  }
});

test('every chunk is a view of one buffer, refilled once the next is asked for', async () => {
  const buffers = new Set<ArrayBufferLike>();
  let chunks = 0;
  let bytes = 0;
  for await (const c of gunzipReusing(pieces(gz, 65_536), noCheck, 64 << 10)) {
    buffers.add(c.buffer);
    chunks++;
    bytes += c.length;
  }
  expect(bytes).toBe(text.length + noise.length);
  expect(chunks).toBeGreaterThan(10);
  expect(buffers.size).toBe(1);
});

test('the check sees the running totals of output and input', async () => {
  const seen: [number, number][] = [];
  let n = 0;
  for await (const c of gunzipReusing(pieces(gz, 65_536), (o, i) => seen.push([o, i]))) n += c.length;
  expect(seen.at(-1)).toEqual([n, gz.length]);
  expect(seen.every(([o], k) => k === 0 || o > seen[k - 1]![0])).toBe(true);
});

test('this Node.js has the zlib binding it drives (else layers would decode through the zlib stream)', () => {
  expect(canGunzipReusing()).toBe(true);
});

test('a chunk that inflates to a great deal lets the event loop run while it does', async () => {
  const bomb = gzipSync(Buffer.alloc(64 << 20)); // ~64 KB, one chunk
  let ticked = false;
  setImmediate(() => (ticked = true));
  let n = 0;
  let tickedBy: number | undefined;
  for await (const c of gunzipReusing(pieces(bomb, bomb.length), noCheck)) {
    n += c.length;
    if (ticked && tickedBy === undefined) tickedBy = n;
  }
  expect(n).toBe(64 << 20);
  expect(tickedBy).toBeLessThan(32 << 20);
});
