/**
 * Deterministic tar headers: POSIX ustar, with a PAX extended header only when a field does not
 * fit (long or non-ASCII names, large sizes or ids) or xattrs must be carried. No uname/gname, no
 * atime/ctime: the same tree always gives the same bytes.
 */

export const BLOCK = 512;

export type TypeFlag = '0' | '1' | '2' | '3' | '4' | '5' | '6';

export interface TarHeader {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds. */
  mtime: number;
  type: TypeFlag;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes, carried as PAX `SCHILY.xattr.<name>` records. */
  xattrs?: Map<string, Buffer>;
}

const MAX_OCTAL_11 = 0o77777777777;
const MAX_OCTAL_7 = 0o7777777;

const ASCII = /^[\x01-\x7f]*$/;

function writeStr(buf: Buffer, off: number, len: number, s: string): void {
  buf.write(s, off, len, 'latin1');
}

function writeOctal(buf: Buffer, off: number, len: number, n: number): void {
  // len-1 digits, zero padded, then NUL
  writeStr(buf, off, len - 1, Math.max(0, Math.floor(n)).toString(8).padStart(len - 1, '0'));
  buf[off + len - 1] = 0;
}

function paxRecord(key: string, value: Buffer): Buffer {
  // "<len> <key>=<value>\n" where len counts itself
  const rest = Buffer.byteLength(key) + value.length + 3; // ' ', '=', '\n'
  let len = rest + String(rest).length;
  if (String(len).length !== String(rest).length) len = rest + String(len).length;
  return Buffer.concat([Buffer.from(`${len} ${key}=`), value, Buffer.from('\n')]);
}

/** Split `name` into ustar prefix and name fields, or undefined when it cannot be. */
function splitUstar(name: string): [string, string] | undefined {
  if (!ASCII.test(name)) return undefined;
  if (name.length <= 100) return ['', name];
  // The first '/' whose remainder fits in 100 bytes keeps the prefix shortest.
  for (let i = 1; i < name.length - 1; i++) {
    if (name[i] !== '/' || name.length - i - 1 > 100) continue;
    return i <= 155 ? [name.slice(0, i), name.slice(i + 1)] : undefined;
  }
  return undefined;
}

function ustarBlock(h: TarHeader, name: string, prefix: string, linkname: string, type: string, size: number): Buffer {
  const b = Buffer.alloc(BLOCK);
  writeStr(b, 0, 100, name);
  writeOctal(b, 100, 8, h.mode & 0o7777);
  writeOctal(b, 108, 8, h.uid > MAX_OCTAL_7 ? 0 : h.uid);
  writeOctal(b, 116, 8, h.gid > MAX_OCTAL_7 ? 0 : h.gid);
  writeOctal(b, 124, 12, size > MAX_OCTAL_11 ? 0 : size);
  writeOctal(b, 136, 12, h.mtime > MAX_OCTAL_11 ? MAX_OCTAL_11 : h.mtime);
  b.write(type, 156, 1, 'latin1');
  writeStr(b, 157, 100, linkname);
  b.write('ustar\x0000', 257, 8, 'latin1');
  writeOctal(b, 329, 8, h.devmajor ?? 0);
  writeOctal(b, 337, 8, h.devminor ?? 0);
  writeStr(b, 345, 155, prefix);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  writeStr(b, 148, 7, sum.toString(8).padStart(6, '0') + '\0');
  b[155] = 0x20;
  return b;
}

/** The header block(s) for one entry: a PAX header and its data when needed, then the ustar block. */
export function encodeHeader(h: TarHeader): Buffer {
  const records: [string, Buffer][] = [];
  const split = splitUstar(h.name);
  let [prefix, name] = split ?? ['', ''];
  if (!split) {
    records.push(['path', Buffer.from(h.name)]);
    name = asciiTrunc(h.name, 100);
  }
  let linkname = h.linkname ?? '';
  if (linkname && (!ASCII.test(linkname) || linkname.length > 100)) {
    records.push(['linkpath', Buffer.from(linkname)]);
    linkname = asciiTrunc(linkname, 100);
  }
  if (h.size > MAX_OCTAL_11) records.push(['size', Buffer.from(String(h.size))]);
  if (h.uid > MAX_OCTAL_7) records.push(['uid', Buffer.from(String(h.uid))]);
  if (h.gid > MAX_OCTAL_7) records.push(['gid', Buffer.from(String(h.gid))]);
  if (h.mtime > MAX_OCTAL_11) records.push(['mtime', Buffer.from(String(h.mtime))]);
  for (const [k, v] of h.xattrs ?? []) records.push([`SCHILY.xattr.${k}`, v]);
  const main = ustarBlock(h, name, prefix, linkname, h.type, h.size);
  if (!records.length) return main;
  records.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const data = Buffer.concat(records.map(([k, v]) => paxRecord(k, v)));
  const base = h.name.replace(/\/+$/, '').split('/').pop() ?? '';
  const paxName = asciiTrunc(`PaxHeaders.0/${base}`, 100);
  const paxHdr = ustarBlock({ ...h, uid: 0, gid: 0, mode: 0o644, devmajor: 0, devminor: 0 }, paxName, '', '', 'x', data.length);
  return Buffer.concat([paxHdr, data, Buffer.alloc(padding(data.length)), main]);
}

function asciiTrunc(s: string, n: number): string {
  return s.replace(/[^\x01-\x7f]/g, '_').slice(0, n);
}

/** Zero bytes needed after `size` bytes of data to reach a block boundary. */
export function padding(size: number): number {
  const r = size % BLOCK;
  return r ? BLOCK - r : 0;
}
