import { expect, test } from 'vitest';
import { readTar } from '../../../src/cache/layer/tar-reader.js';
import { makeTar } from './tar-helpers.js';

/**
 * A source like the layer applier's gunzip: every chunk a view of one buffer, scribbled over and
 * refilled once the next chunk is asked for.
 */
async function* reusing(data: Buffer, size: number): AsyncGenerator<Buffer> {
  const buf = Buffer.alloc(size);
  for (let off = 0; off < data.length; off += size) {
    const n = data.copy(buf, 0, off, off + size);
    yield buf.subarray(0, n);
    buf.fill(0xaa);
  }
}

test('headers, extended headers and xattrs survive a source that reuses its memory', async () => {
  const long = `dir/${'n'.repeat(150)}/file`;
  const cap = Buffer.from([1, 0, 0, 2, 0xff, 0xfe, 0, 0]).toString('latin1');
  const tar = await makeTar([
    { name: 'dir/', type: 'directory' },
    { name: 'dir/a.txt', content: 'alpha '.repeat(300) },
    { name: long, content: 'beta '.repeat(200), pax: { 'SCHILY.xattr.user.note': 'kept', comment: 'x'.repeat(900) } },
    { name: 'dir/link', type: 'symlink', linkname: `../${'t'.repeat(120)}` },
    { name: 'dir/capped', content: 'gamma', pax: { 'SCHILY.xattr.user.cap': cap } },
  ]);
  const want = await read(async function* () {
    yield tar;
  }());
  expect(want.map((e) => e.name)).toEqual(['dir/', 'dir/a.txt', long, 'dir/link', 'dir/capped']);
  for (const size of [100, 512, 700, 4096]) expect(await read(reusing(tar, size)), `chunks of ${size}`).toEqual(want);
});

test('a header cut short is an error, however the source cuts its chunks', async () => {
  const tar = await makeTar([{ name: 'a.txt', content: 'alpha' }, { name: 'b.txt', content: 'beta' }]);
  const cut = tar.subarray(0, 1024 + 300); // a.txt's header and data, then part of b.txt's header
  for (const size of [100, 512, 700, 1024, 4096]) {
    const err = await read(reusing(cut, size)).catch((e: unknown) => e);
    expect((err as Error).message, `chunks of ${size}`).toBe('invalid tar: truncated header');
  }
});

async function read(src: AsyncIterable<Buffer>): Promise<Array<{ name: string; linkname: string; xattrs: Record<string, string>; body: string }>> {
  const out = [];
  for await (const e of readTar(src)) {
    const parts: Buffer[] = [];
    // a chunk is valid until the next is asked for: copied at once, as the applier writes it at once
    for await (const c of e.body) parts.push(Buffer.from(c));
    // the header is read after the body, when the source has long moved on
    const xattrs = Object.fromEntries([...e.header.xattrs].map(([k, v]) => [k, v.toString('hex')]));
    out.push({ name: e.header.name, linkname: e.header.linkname, xattrs, body: Buffer.concat(parts).toString() });
  }
  return out;
}
