import { test, expect } from 'vitest';
import { readdir, writeFile, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { contentStoreSuite } from '../support/suites/content-store.js';
import { MemoryContentStore } from '../support/memory-content-store.js';
import { openContentStore } from '../../src/cache/content-store.js';
import { tempDir } from '../support/tmp.js';
import { sha256, digestHex } from '../../src/util/digest.js';

contentStoreSuite('file', async () => {
  const t = await tempDir('tbcs-');
  const store = await openContentStore(t.path);
  return {
    store,
    leftovers: async () => (await readdir(join(t.path, 'content/ingest'))).length,
    cleanup: t.cleanup,
  };
});

contentStoreSuite('memory', async () => {
  const store = new MemoryContentStore();
  return { store, leftovers: async () => store.pending, cleanup: async () => {} };
});

test('blobs live at content/blobs/sha256/<hex>; leftover ingests are swept on open', async () => {
  const t = await tempDir('tbcs-');
  try {
    const s = await openContentStore(t.path);
    const info = await s.put('layout');
    const st = await stat(join(t.path, 'content/blobs/sha256', digestHex(sha256('layout'))));
    expect(st.size).toBe(info.size);
    await mkdir(join(t.path, 'content/ingest'), { recursive: true });
    await writeFile(join(t.path, 'content/ingest/crashed-1'), 'half a blob');
    await writeFile(join(t.path, 'content/ingest/crashed-2'), 'another');
    const dead = spawnSync('true').pid;
    await writeFile(join(t.path, `content/ingest/${dead}-abc-def`), 'a dead writer');
    // a writer of a live process (here: this one, through another open store) is kept
    const w = await s.writer();
    await w.write(Buffer.from('in flight'));
    await openContentStore(t.path);
    expect((await readdir(join(t.path, 'content/ingest'))).map((n) => n.split('-')[0])).toEqual([String(process.pid)]);
    expect((await w.commit()).digest).toBe(sha256('in flight'));
    expect(await readdir(join(t.path, 'content/ingest'))).toEqual([]);
    expect(await s.sweepIngests()).toBe(0);
    expect((await s.read(info.digest)).toString()).toBe('layout');
  } finally {
    await t.cleanup();
  }
});

test('a writer hashed by its caller: the given digest is checked; none given, the written bytes are read back', async () => {
  const t = await tempDir('tbcs-');
  try {
    const s = await openContentStore(t.path);
    const bytes = Buffer.from('hashed on another thread');
    const ok = await s.writer({ expected: sha256(bytes), size: bytes.length, hashedByCaller: true });
    await ok.write(bytes);
    expect(await ok.commit(sha256(bytes))).toEqual({ digest: sha256(bytes), size: bytes.length });
    // the caller's hashing saw other bytes than the blob should be: refused, nothing kept
    const other = Buffer.from('something else entirely!');
    const bad = await s.writer({ expected: sha256(other), size: bytes.length, hashedByCaller: true });
    await bad.write(bytes);
    await expect(bad.commit(sha256(bytes))).rejects.toMatchObject({ code: 'TB_CONTENT_DIGEST_MISMATCH' });
    expect(await s.info(sha256(other))).toBeUndefined();
    // a caller whose hashing stopped early: what was written is hashed and checked
    const late = await s.writer({ expected: sha256(other), size: other.length, hashedByCaller: true });
    await late.write(other);
    expect((await late.commit()).digest).toBe(sha256(other));
    const wrong = await s.writer({ expected: sha256(bytes), size: other.length, hashedByCaller: true });
    await wrong.write(other);
    await expect(wrong.commit()).rejects.toMatchObject({ code: 'TB_CONTENT_DIGEST_MISMATCH' });
    expect(await readdir(join(t.path, 'content/ingest'))).toEqual([]);
  } finally {
    await t.cleanup();
  }
});

test('flush writes out what the writer gathered; a chunk emptied before it was written fails the ingest, never a short blob', async () => {
  const t = await tempDir('tbcs-');
  try {
    const s = await openContentStore(t.path);
    const part = Buffer.from('first part, ');
    const w = await s.writer();
    await w.write(part);
    await w.flush();
    // once flushed, the writer holds nothing of it: the caller may move its memory away
    structuredClone(part.buffer, { transfer: [part.buffer as ArrayBuffer] });
    await w.write(Buffer.from('second part'));
    expect(await w.commit()).toEqual({ digest: sha256('first part, second part'), size: 23 });

    const given = new Uint8Array(Buffer.from('moved away too soon'));
    const early = await s.writer({ expected: sha256('moved away too soon'), size: given.length, hashedByCaller: true });
    await early.write(given);
    structuredClone(given.buffer, { transfer: [given.buffer as ArrayBuffer] });
    await expect(early.commit(sha256('moved away too soon'))).rejects.toMatchObject({ code: 'TB_INTERNAL' });
    expect(await s.info(sha256('moved away too soon'))).toBeUndefined();
    expect(await readdir(join(t.path, 'content/ingest'))).toEqual([]);
  } finally {
    await t.cleanup();
  }
});
