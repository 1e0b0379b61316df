import { describe, test, expect, beforeEach, afterEach } from 'vitest';
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { sha256, type Digest } from '../../../src/util/digest.js';
import { isTbuildError } from '../../../src/errors.js';
import type { ContentStore } from '../../../src/cache/types.js';

export interface ContentStoreHarness {
  store: ContentStore;
  /** Count of in-flight ingest leftovers (temp files, open writers) the implementation holds. */
  leftovers(): Promise<number>;
  cleanup(): Promise<void>;
}

async function collect(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(parts);
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return isTbuildError(err) ? err.code : `non-tbuild: ${(err as Error).message}`;
  }
  return undefined;
}

/** The behaviour every ContentStore must show. `factory` gives a fresh, empty store each time. */
export function contentStoreSuite(name: string, factory: () => Promise<ContentStoreHarness>): void {
  describe(`ContentStore conformance: ${name}`, () => {
    let h: ContentStoreHarness;
    beforeEach(async () => {
      h = await factory();
    });
    afterEach(async () => {
      await h.cleanup();
    });

    test('put, info, read, stream, walk, delete', async () => {
      const s = h.store;
      const info = await s.put('hello');
      expect(info).toEqual({ digest: sha256('hello'), size: 5 });
      expect(await s.info(info.digest)).toEqual(info);
      expect((await s.read(info.digest)).toString()).toBe('hello');
      expect((await collect(s.createReadStream(info.digest))).toString()).toBe('hello');
      const big = randomBytes(3 << 20);
      const bigInfo = await s.put(big);
      expect((await collect(s.createReadStream(bigInfo.digest))).equals(big)).toBe(true);
      const all: string[] = [];
      for await (const b of s.walk()) all.push(b.digest);
      expect(all.sort()).toEqual([info.digest, bigInfo.digest].sort());
      await s.delete(info.digest);
      expect(await s.info(info.digest)).toBeUndefined();
      expect(await codeOf(s.read(info.digest))).toBe('TB_CONTENT_NOT_FOUND');
      expect(await codeOf(s.delete(info.digest))).toBe('TB_CONTENT_NOT_FOUND');
      expect(await codeOf(collect(s.createReadStream(info.digest)))).toBe('TB_CONTENT_NOT_FOUND');
    });

    test('empty blob and ingest from a stream in many chunks', async () => {
      const e = await h.store.put(new Uint8Array(0));
      expect(e).toEqual({ digest: sha256(''), size: 0 });
      const chunks = Array.from({ length: 50 }, (_, i) => Buffer.alloc(1000, i));
      const info = await h.store.ingest(Readable.from(chunks), { size: 50_000 });
      expect(info.digest).toBe(sha256(Buffer.concat(chunks)));
      expect(await h.leftovers()).toBe(0);
    });

    test('invalid digests are refused', async () => {
      expect(await codeOf(h.store.read('sha256:xyz' as Digest))).toBe('TB_INVALID_ARGUMENT');
      expect(await codeOf(h.store.info('../../etc/passwd' as Digest))).toBe('TB_INVALID_ARGUMENT');
    });

    test('expected digest mismatch fails and stores nothing', async () => {
      const wrong = sha256('other');
      expect(await codeOf(h.store.put('data', { expected: wrong }))).toBe('TB_CONTENT_DIGEST_MISMATCH');
      expect(await h.store.info(sha256('data'))).toBeUndefined();
      expect(await h.store.info(wrong)).toBeUndefined();
      expect(await h.leftovers()).toBe(0);
      const ok = await h.store.put('data', { expected: sha256('data'), size: 4 });
      expect(ok.digest).toBe(sha256('data'));
    });

    test('size mismatch (short and long) fails and stores nothing', async () => {
      expect(await codeOf(h.store.put('data', { size: 5 }))).toBe('TB_CONTENT_SIZE_MISMATCH');
      expect(await codeOf(h.store.put('data', { size: 3 }))).toBe('TB_CONTENT_SIZE_MISMATCH');
      expect(await codeOf(h.store.ingest(Readable.from([Buffer.alloc(10), Buffer.alloc(10)]), { size: 15 }))).toBe(
        'TB_CONTENT_SIZE_MISMATCH',
      );
      expect(await h.store.info(sha256('data'))).toBeUndefined();
      expect(await h.leftovers()).toBe(0);
    });

    test('committing content that already exists is not an error', async () => {
      const a = await h.store.put('same');
      const b = await h.store.put('same', { expected: a.digest });
      expect(b).toEqual(a);
      expect((await h.store.read(a.digest)).toString()).toBe('same');
    });

    test('concurrent identical writes all succeed and leave one intact blob', async () => {
      const data = randomBytes(1 << 20);
      const results = await Promise.all(
        Array.from({ length: 8 }, () =>
          h.store.ingest(Readable.from([data.subarray(0, 1000), data.subarray(1000)]), { expected: sha256(data) }),
        ),
      );
      for (const r of results) expect(r).toEqual({ digest: sha256(data), size: data.length });
      expect((await h.store.read(sha256(data))).equals(data)).toBe(true);
      let n = 0;
      for await (const _ of h.store.walk()) n++;
      expect(n).toBe(1);
      expect(await h.leftovers()).toBe(0);
    });

    test('abort leaves nothing, and a writer is invisible until commit', async () => {
      const w = await h.store.writer();
      await w.write(Buffer.from('partial'));
      expect(await h.store.info(sha256('partial'))).toBeUndefined();
      let n = 0;
      for await (const _ of h.store.walk()) n++;
      expect(n).toBe(0);
      await w.abort();
      expect(await h.leftovers()).toBe(0);
      expect(await h.store.info(sha256('partial'))).toBeUndefined();

      const w2 = await h.store.writer({ size: 10 });
      await w2.write(Buffer.from('12345'));
      expect(await h.store.info(sha256('12345'))).toBeUndefined();
      await w2.write(Buffer.from('67890'));
      expect(await h.store.info(sha256('1234567890'))).toBeUndefined();
      const info = await w2.commit();
      expect(info.digest).toBe(sha256('1234567890'));
      expect((await h.store.read(info.digest)).toString()).toBe('1234567890');
      expect(await h.leftovers()).toBe(0);
    });

    test('a failing source stream aborts the ingest', async () => {
      const src = new Readable({
        read() {
          this.push(Buffer.from('some bytes'));
          this.destroy(new Error('source broke'));
        },
      });
      await expect(h.store.ingest(src)).rejects.toThrow(/source broke/);
      expect(await h.leftovers()).toBe(0);
      expect(await h.store.info(sha256('some bytes'))).toBeUndefined();
    });
  });
}
