import http2 from 'node:http2';
import net from 'node:net';
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import type { HandlerContext } from '@connectrpc/connect';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { syncFromClient } from '../../src/control/diffcopy-receive.js';
import { FileSync } from '../../src/control/gen/github.com/moby/buildkit/session/filesync/filesync_pb.js';
import { StatSchema } from '../../src/control/gen/github.com/tonistiigi/fsutil/types/stat_pb.js';
import { type Packet, PacketSchema, Packet_PacketType as T } from '../../src/control/gen/github.com/tonistiigi/fsutil/types/wire_pb.js';
import { SessionRegistry } from '../../src/control/sessions.js';
import type { ClientSession } from '../../src/control/types.js';
import { isTbuildError } from '../../src/errors.js';
import { tempDir } from '../support/tmp.js';

/**
 * The receiving side of fsutil's DiffCopy against a scripted client: the client's session is a real
 * HTTP/2 gRPC server on a unix socket (as the Docker CLI serves it), sending what a test tells it to.
 */
const GO_DIR = 2 ** 31;
const GO_SYMLINK = 2 ** 27;

interface Entry {
  path: string;
  mode: number;
  content?: string;
  linkname?: string;
  mtime?: number;
}

interface Script {
  entries: Entry[];
  /** Stop answering (close the stream) after this many DATA replies. */
  dropAfter?: number;
}

describe('DiffCopy receiver', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let script: Script;
  let requested: string[];
  let headersSeen: Record<string, string>;
  let server: net.Server;
  let registry: SessionRegistry;
  let session: ClientSession;

  beforeEach(async () => {
    tmp = await tempDir('tb-diffcopy-');
    requested = [];
    const handler = connectNodeAdapter({
      routes: (router) =>
        router.service(FileSync, {
          async *diffCopy(reqs: AsyncIterable<Packet>, ctx: HandlerContext) {
            headersSeen = Object.fromEntries([...ctx.requestHeader.entries()]);
            for (const e of script.entries) {
              yield create(PacketSchema, {
                type: T.PACKET_STAT,
                stat: create(StatSchema, { path: e.path, mode: e.mode, size: BigInt(e.content?.length ?? 0), modTime: BigInt(e.mtime ?? 1_700_000_000) * 1_000_000_000n, linkname: e.linkname ?? '' }),
              });
            }
            yield create(PacketSchema, { type: T.PACKET_STAT });
            let sent = 0;
            for await (const p of reqs) {
              if (p.type === T.PACKET_FIN) {
                yield create(PacketSchema, { type: T.PACKET_FIN });
                return;
              }
              if (p.type !== T.PACKET_REQ) continue;
              const e = script.entries[p.ID]!;
              requested.push(e.path);
              if (script.dropAfter !== undefined && sent >= script.dropAfter) throw new Error('client went away');
              yield create(PacketSchema, { type: T.PACKET_DATA, ID: p.ID, data: new TextEncoder().encode(e.content ?? '') });
              yield create(PacketSchema, { type: T.PACKET_DATA, ID: p.ID });
              sent++;
            }
          },
        }),
    });
    const h2 = http2.createServer(handler);
    server = net.createServer((sock) => h2.emit('connection', sock));
    const sockPath = join(tmp.path, 'cli.sock');
    await new Promise<void>((r) => server.listen(sockPath, r));
    const conn = net.connect(sockPath);
    await new Promise<void>((r) => conn.once('connect', r));
    registry = new SessionRegistry();
    session = registry.attach(conn, Buffer.alloc(0), {
      'x-docker-expose-session-uuid': 'sess-1',
      'x-docker-expose-session-sharedkey': 'key',
      'x-docker-expose-session-grpc-method': '/moby.filesync.v1.FileSync/DiffCopy, /moby.filesync.v1.FileSync/TarStream',
    });
  });
  afterEach(async () => {
    registry.close();
    server.close();
    await tmp.cleanup();
  });

  const file = (path: string, content: string, mtime?: number): Entry => ({ path, mode: 0o644, content, ...(mtime ? { mtime } : {}) });
  const dir = (path: string): Entry => ({ path, mode: GO_DIR + 0o755 });

  test('mirrors files, directories and symlinks; a second sync asks only for what changed and drops what went', async () => {
    const dest = join(tmp.path, 'ctx');
    script = { entries: [file('a.txt', 'alpha'), dir('sub'), file('sub/b.txt', 'beta'), file('sub/gone.txt', 'x'), { path: 'sub/link', mode: GO_SYMLINK + 0o777, linkname: '/etc/passwd' }] };
    const first = await syncFromClient(session, { dirName: 'context', dest, excludePatterns: ['*.log', 'tmp dir'] });
    expect(first).toEqual({ entries: 5, transferred: 3, bytes: 10 });
    expect(headersSeen['dir-name']).toBe('context');
    // Each pattern is its own metadata value, as fsutil's sender reads them.
    expect(headersSeen['exclude-patterns']).toBe('*.log, tmp dir');
    expect(readFileSync(join(dest, 'sub/b.txt'), 'utf8')).toBe('beta');
    expect(readlinkSync(join(dest, 'sub/link'))).toBe('/etc/passwd');
    expect(lstatSync(join(dest, 'a.txt')).mtimeMs).toBe(1_700_000_000_000);

    requested = [];
    script = { entries: [file('a.txt', 'alpha'), dir('sub'), file('sub/b.txt', 'BETA!', 1_700_000_100)] };
    const second = await syncFromClient(session, { dirName: 'context', dest });
    expect(requested).toEqual(['sub/b.txt']);
    expect(second.bytes).toBe(5);
    expect(readFileSync(join(dest, 'sub/b.txt'), 'utf8')).toBe('BETA!');
    expect(existsSync(join(dest, 'sub/gone.txt'))).toBe(false);
    expect(existsSync(join(dest, 'sub/link'))).toBe(false);
  });

  test.each([
    ['a ../ path', [file('../escape.txt', 'x')]],
    ['an absolute path', [file('/abs.txt', 'x')]],
    ['an entry under a symlink', [{ path: 'out', mode: GO_SYMLINK + 0o777, linkname: '..' }, file('out/escape.txt', 'x')]],
    ['a hard link to a path outside the listing', [{ path: 'h', mode: 0o644, linkname: '../../etc/shadow' }]],
    ['an entry whose directory was never listed', [file('nodir/x.txt', 'x')]],
  ])('refuses %s and writes nothing outside', async (_name, entries) => {
    const dest = join(tmp.path, 'hostile', 'ctx');
    script = { entries };
    const err = await syncFromClient(session, { dirName: 'context', dest }).catch((e: unknown) => e);
    expect(isTbuildError(err, 'TB_BUILDKIT_SYNC')).toBe(true);
    expect(readdirSync(join(tmp.path, 'hostile')).sort()).toEqual(['ctx']);
    expect(existsSync(join(tmp.path, 'escape.txt'))).toBe(false);
  });

  test('a client that goes away mid-transfer fails the sync and leaves no partial files', async () => {
    const dest = join(tmp.path, 'ctx');
    script = { entries: [file('one', '1'), file('two', '2'), file('three', '3')], dropAfter: 1 };
    const err = await syncFromClient(session, { dirName: 'context', dest }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    const left = readdirSync(dest);
    expect(left.filter((n) => n.includes('tbuild-part'))).toEqual([]);
    // The state record is gone, so the next sync re-checks every file instead of trusting them.
    expect(existsSync(`${dest}.tbuild-sync.json`)).toBe(false);
  });

  test('two builds syncing one directory of one session at once take turns and both get it whole', async () => {
    const dest = join(tmp.path, 'shared');
    script = { entries: [dir('d'), ...Array.from({ length: 40 }, (_, i) => file(`d/f${i}`, `content ${i}`))] };
    const [a, b] = await Promise.all([syncFromClient(session, { dirName: 'context', dest }), syncFromClient(session, { dirName: 'context', dest })]);
    // The first transfers everything; the second, serialized behind it, finds nothing to ask for.
    expect([a.transferred, b.transferred].sort((x, y) => x - y)).toEqual([0, 40]);
    expect(readdirSync(join(dest, 'd')).length).toBe(40);
    expect(readFileSync(join(dest, 'd/f39'), 'utf8')).toBe('content 39');
  });

  test('a session that cannot sync files is refused by name', async () => {
    const bare: ClientSession = { ...session, methods: new Set() };
    await expect(syncFromClient(bare, { dirName: 'context', dest: join(tmp.path, 'x') })).rejects.toThrow(/offers no file sync/);
  });
});
