import { describe, expect, test } from 'vitest';
import { PassThrough } from 'node:stream';
import { parseDetachKeys, watchDetachKeys } from '../../src/util/detach-keys.js';

async function run(chunks: Buffer[], keys: string, end = true): Promise<{ out: string; detached: boolean; ended: boolean }> {
  const input = new PassThrough();
  let detached = false;
  const watched = watchDetachKeys(input, parseDetachKeys(keys), () => (detached = true));
  let out = '';
  let ended = false;
  watched.on('data', (d: Buffer) => (out += d.toString('latin1')));
  watched.on('end', () => (ended = true));
  for (const c of chunks) input.write(c);
  if (end) input.end();
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  return { out, detached, ended };
}

describe('detach keys', () => {
  test('Docker\'s syntax: default ctrl-p,ctrl-q; letters, ctrl codes, single characters', () => {
    expect([...parseDetachKeys(undefined)]).toEqual([16, 17]);
    expect([...parseDetachKeys('')]).toEqual([16, 17]);
    expect([...parseDetachKeys('ctrl-a,x,ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_')]).toEqual([1, 120, 0, 27, 28, 29, 30, 31]);
    expect(() => parseDetachKeys('ctrl-1')).toThrow(/Invalid detach keys \(ctrl-1\)/);
    expect(() => parseDetachKeys('ab')).toThrow(/Invalid detach keys/);
  });

  test('the sequence detaches without ending the stream and is never delivered, even split across chunks', async () => {
    const r = await run([Buffer.from('ls\x10'), Buffer.from('\x11more')], 'ctrl-p,ctrl-q', false);
    expect(r).toEqual({ out: 'ls', detached: true, ended: false });
  });

  test('a broken prefix goes on as typed; a repeated first key still starts a match', async () => {
    expect(await run([Buffer.from('a\x10b\x10\x10\x11')], 'ctrl-p,ctrl-q', false)).toEqual({ out: 'a\x10b\x10', detached: true, ended: false });
  });

  test('without the sequence, everything passes and the end ends it (a held prefix is flushed)', async () => {
    expect(await run([Buffer.from('echo hi\n\x10')], 'ctrl-p,ctrl-q')).toEqual({ out: 'echo hi\n\x10', detached: false, ended: true });
  });
});
