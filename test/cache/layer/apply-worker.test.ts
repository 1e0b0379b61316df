import { test, expect } from 'vitest';
import { gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { readFile, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { tempDir } from '../../support/tmp.js';
import { makeTar } from './tar-helpers.js';
import { applyTar, layerConverter } from '../../../src/cache/layer/index.js';
import { applyTarOffThread, pooledWorkers } from '../../../src/cache/layer/apply-worker.js';
import { isTbuildError } from '../../../src/errors.js';
import { sha256 } from '../../../src/util/digest.js';

/** A stream of `buf` in chunks of `size`, as a download gives it. */
function chunked(buf: Buffer, size: number): Readable {
  const parts: Buffer[] = [];
  for (let o = 0; o < buf.length; o += size) parts.push(buf.subarray(o, o + size));
  return Readable.from(parts, { objectMode: false });
}

test('a layer extracted on a worker thread is the same tree, diffID and size as one extracted here', async () => {
  const t = await tempDir('tbaw-');
  try {
    const big = randomBytes(10 << 20);
    const tar = await makeTar([
      { name: 'etc/', type: 'directory', mode: 0o755 },
      { name: 'etc/hosts', content: '127.0.0.1 localhost\n' },
      { name: 'data.bin', content: big },
      { name: 'link', type: 'symlink', linkname: 'etc/hosts' },
      { name: 'gone/.wh.old', content: '' },
    ]);
    const gz = gzipSync(tar);
    const here = await applyTar(chunked(gz, 256 << 10), join(t.path, 'here'));
    expect(pooledWorkers()).toBe(0);
    // more than the in-flight bound, in small chunks: the reader has to wait for the worker
    const there = await layerConverter.applyTar(chunked(gz, 256 << 10), join(t.path, 'there'), { offThread: true });
    // the converter's offThread really went to a worker
    expect(pooledWorkers()).toBeGreaterThan(0);
    expect(there).toEqual(here);
    expect(there.diffId).toBe(sha256(tar));
    expect(sha256(await readFile(join(t.path, 'there/data.bin')))).toBe(sha256(big));
    expect(await readlink(join(t.path, 'there/link'))).toBe('etc/hosts');
    expect((await readdir(join(t.path, 'there'))).sort()).toEqual((await readdir(join(t.path, 'here'))).sort());
    // an async iterable serves as well as a stream (a pull hands its download over so)
    async function* pieces(): AsyncGenerator<Buffer> {
      yield* chunked(tar, 1 << 20) as AsyncIterable<Buffer>;
    }
    expect(await applyTarOffThread(pieces(), join(t.path, 'again'))).toEqual(here);
  } finally {
    await t.cleanup();
  }
});

test("the worker's refusal of a hostile entry comes back with its code, and the worker serves the next layer", async () => {
  const t = await tempDir('tbaw-');
  try {
    const bad = await makeTar([{ name: '../escape', content: 'x' }]);
    const err = await applyTarOffThread(Readable.from([bad]), join(t.path, 'root')).catch((e: unknown) => e);
    expect(isTbuildError(err, 'TB_TAR_HOSTILE')).toBe(true);
    expect(String((err as Error).message)).toContain('../escape');
    expect(await readdir(t.path)).toEqual(['root']);
    const good = await makeTar([{ name: 'ok', content: 'fine' }]);
    expect((await applyTarOffThread(Readable.from([good]), join(t.path, 'root2'))).diffId).toBe(sha256(good));
  } finally {
    await t.cleanup();
  }
});

test('a stream that fails midway fails the extraction with its own error', async () => {
  const t = await tempDir('tbaw-');
  try {
    const tar = await makeTar([{ name: 'f', content: randomBytes(1 << 20) }]);
    async function* broken(): AsyncGenerator<Buffer> {
      yield tar.subarray(0, 100_000);
      throw new Error('connection reset by the registry');
    }
    await expect(applyTarOffThread(broken(), join(t.path, 'root'))).rejects.toThrow('connection reset by the registry');
    // several at once share the pool and each gets its own answer
    const tars = await Promise.all([1, 2, 3].map((i) => makeTar([{ name: `f${i}`, content: `file ${i}` }])));
    const got = await Promise.all(tars.map((b, i) => applyTarOffThread(Readable.from([b]), join(t.path, `p${i}`))));
    expect(got.map((d) => d.diffId)).toEqual(tars.map((b) => sha256(b)));
  } finally {
    await t.cleanup();
  }
});

test('digestInput: the worker hashes the bytes as given (compressed) beside the extraction; only off this thread', async () => {
  const t = await tempDir('tbaw-');
  try {
    const tar = await makeTar([{ name: 'data.bin', content: randomBytes(3 << 20) }]);
    const gz = gzipSync(tar);
    const got = await layerConverter.applyTar(chunked(gz, 64 << 10), join(t.path, 'a'), { offThread: true, digestInput: true });
    expect(got).toEqual({ diffId: sha256(tar), size: tar.length, input: { digest: sha256(gz), size: gz.length } });
    // without it, nothing is hashed twice
    expect((await layerConverter.applyTar(chunked(gz, 64 << 10), join(t.path, 'b'), { offThread: true })).input).toBeUndefined();
    await expect(layerConverter.applyTar(chunked(gz, 64 << 10), join(t.path, 'c'), { digestInput: true })).rejects.toMatchObject({ code: 'TB_INTERNAL' });
  } finally {
    await t.cleanup();
  }
});

test('handOver: chunks that own their memory move to the worker without a copy; shared ones are copied', async () => {
  const t = await tempDir('tbaw-');
  try {
    const tar = await makeTar([{ name: 'data.bin', content: randomBytes(2 << 20) }]);
    const gz = gzipSync(tar);
    // chunks like a download's socket reads (each its own memory), and a view into a shared one
    const owned = [];
    for (let o = 0; o < gz.length - 100; o += 64 << 10) owned.push(new Uint8Array(gz.subarray(o, Math.min(o + (64 << 10), gz.length - 100))));
    const shared = Buffer.concat([Buffer.alloc(7), gz.subarray(gz.length - 100)]).subarray(7);
    const chunks = [...owned.map((c) => Buffer.from(c.buffer)), shared];
    const got = await layerConverter.applyTar(Readable.from(chunks, { objectMode: false }), join(t.path, 'a'), { offThread: true, digestInput: true, handOver: true });
    expect(got).toEqual({ diffId: sha256(tar), size: tar.length, input: { digest: sha256(gz), size: gz.length } });
    expect((await readFile(join(t.path, 'a', 'data.bin'))).equals(tar.subarray(512, 512 + (2 << 20)))).toBe(true);
    // the owned ones went to the worker (this thread's views are empty now); the shared one stayed
    expect(chunks.slice(0, -1).every((c) => c.buffer.byteLength === 0)).toBe(true);
    expect(shared.length).toBe(100);
  } finally {
    await t.cleanup();
  }
});

test('warmWorkers starts the threads a number of extractions will use, never more than the CPUs, and they serve jobs', async () => {
  const { warmWorkers } = await import('../../../src/cache/layer/apply-worker.js');
  const { availableParallelism } = await import('node:os');
  warmWorkers(1);
  expect(pooledWorkers()).toBeGreaterThanOrEqual(1);
  warmWorkers(1000);
  expect(pooledWorkers()).toBe(availableParallelism());
  const t = await tempDir('tbaw-');
  try {
    const tar = await makeTar([{ name: 'warm.txt', content: 'warm' }]);
    expect((await layerConverter.applyTar(chunked(tar, 100), join(t.path, 'a'), { offThread: true })).diffId).toBe(sha256(tar));
    expect(pooledWorkers()).toBe(availableParallelism());
  } finally {
    await t.cleanup();
  }
});
