import { test, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { encodeHeader, padding } from '../../../src/cache/layer/header.js';
import { readTar, parsePax, type TarEntryHeader } from '../../../src/cache/layer/tar-reader.js';

async function parse(data: Buffer): Promise<TarEntryHeader[]> {
  const out: TarEntryHeader[] = [];
  for await (const e of readTar((async function* () { yield data; })())) out.push(e.header);
  return out;
}

test('fields that do not fit ustar go to PAX and read back exactly', async () => {
  const name = `${'dir/'.repeat(40)}ñame-${'x'.repeat(120)}`;
  const linkname = `/target/${'y'.repeat(200)}`;
  const bin = Buffer.from([0, 1, 2, 0xff, 0x0a, 0x3d]);
  const hdr = encodeHeader({
    name,
    type: '2',
    mode: 0o777,
    uid: 5_000_000,
    gid: 3_000_000,
    size: 0,
    mtime: 1_700_000_000,
    linkname,
    xattrs: new Map([['security.capability', bin], ['user.a', Buffer.from('b')]]),
  });
  const [h] = await parse(Buffer.concat([hdr, Buffer.alloc(1024)]));
  expect(h).toMatchObject({ name, linkname, type: '2', uid: 5_000_000, gid: 3_000_000, mtime: 1_700_000_000 });
  expect(h!.xattrs.get('security.capability')?.equals(bin)).toBe(true);
  expect(h!.xattrs.get('user.a')?.toString()).toBe('b');
  // GNU tar agrees
  const listing = execFileSync('tar', ['-tvf', '-'], { input: Buffer.concat([hdr, Buffer.alloc(1024)]) }).toString();
  expect(listing).toContain('x'.repeat(120));
});

test('ustar prefix splitting and plain headers are byte-stable', async () => {
  const name = `${'p'.repeat(120)}/${'n'.repeat(90)}`;
  const a = encodeHeader({ name, type: '0', mode: 0o4755, uid: 0, gid: 0, size: 3, mtime: 1 });
  expect(a.length).toBe(512); // no PAX needed
  expect(a.equals(encodeHeader({ name, type: '0', mode: 0o4755, uid: 0, gid: 0, size: 3, mtime: 1 }))).toBe(true);
  const data = Buffer.concat([a, Buffer.from('abc'), Buffer.alloc(padding(3)), Buffer.alloc(1024)]);
  const [h] = await parse(data);
  expect(h).toMatchObject({ name, mode: 0o4755, size: 3 });
});

test('PAX records with multi-digit lengths parse', () => {
  const rec = (k: string, v: string) => {
    const body = ` ${k}=${v}\n`;
    let len = body.length + 1;
    while (String(len).length + body.length !== len) len++;
    return `${len}${body}`;
  };
  const m = parsePax(Buffer.from(rec('path', 'a'.repeat(200)) + rec('uid', '7')));
  expect(m.get('path')?.toString()).toBe('a'.repeat(200));
  expect(m.get('uid')?.toString()).toBe('7');
});
