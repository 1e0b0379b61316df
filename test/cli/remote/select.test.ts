import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../../support/tmp.js';
import { selectTarget, openRemoteEngine, defaultSocket } from '../../../src/cli/remote/select.js';
import { RemoteEngine } from '../../../src/cli/remote/engine.js';
import { openCliEngine, trackCommand } from '../../../src/cli/remote/wire.js';
import { Engine } from '../../../src/engine.js';
import { Command } from 'commander';
import { isTbuildError } from '../../../src/errors.js';

/** A unix-socket server that answers `_ping` like the daemon (or, `hang`, accepts and never answers). */
async function fakeDaemon(path: string, mode: 'ok' | 'hang'): Promise<{ close: () => Promise<void>; pings: () => number }> {
  let pings = 0;
  const sockets = new Set<net.Socket>();
  const server =
    mode === 'ok'
      ? http.createServer((req, res) => {
          if (req.url === '/_ping') pings++;
          res.writeHead(200, { 'Api-Version': '1.45', 'Content-Type': 'text/plain' });
          res.end('OK');
        })
      : net.createServer(() => {});
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    pings: () => pings,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('engine selection (issue #5)', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    tmp = await tempDir('tbsel-');
  });
  afterAll(async () => {
    await tmp.cleanup();
  });

  test('the default socket path is injectable and defaults to /run/tbuild.sock', () => {
    expect(defaultSocket({})).toBe('/run/tbuild.sock');
    expect(defaultSocket({ TBUILD_DEFAULT_SOCKET: '/x/y.sock' })).toBe('/x/y.sock');
  });

  test('-H wins over --root; --root alone means embedded; local-only commands stay local', async () => {
    const env = { TBUILD_DEFAULT_SOCKET: join(tmp.path, 'none.sock') };
    expect(await selectTarget({ host: 'unix:///a.sock', rootExplicit: true, command: 'images', env })).toEqual({ kind: 'remote', host: 'unix:///a.sock', explicit: true });
    expect(await selectTarget({ rootExplicit: true, command: 'images', env })).toEqual({ kind: 'embedded' });
    for (const command of ['check', 'outline', 'daemon']) {
      expect(await selectTarget({ host: 'unix:///a.sock', rootExplicit: false, command, env })).toEqual({ kind: 'embedded' });
    }
    expect(await selectTarget({ rootExplicit: false, command: 'images', env })).toEqual({ kind: 'embedded' });
  });

  test('a default socket that answers _ping is used, with the version it negotiates', async () => {
    const sock = join(tmp.path, 'ok.sock');
    const fake = await fakeDaemon(sock, 'ok');
    try {
      const env = { TBUILD_DEFAULT_SOCKET: sock };
      expect(await selectTarget({ rootExplicit: false, command: 'ps', env })).toEqual({ kind: 'remote', host: `unix://${sock}`, explicit: false });
      const engine = await openRemoteEngine({ rootExplicit: false, command: 'ps', env });
      expect(engine).toBeInstanceOf(RemoteEngine);
      expect((engine as unknown as RemoteEngine).client.apiVersion).toBe('1.45');
      expect(fake.pings()).toBe(1);
      await engine!.close();
      // --root keeps a test with its own state root away from a daemon that happens to run.
      expect(await openRemoteEngine({ rootExplicit: true, command: 'ps', env })).toBeUndefined();
      expect(fake.pings()).toBe(1);
    } finally {
      await fake.close();
    }
  });

  test('a default socket that hangs, or a stale file that is no socket, falls back to embedded', async () => {
    const sock = join(tmp.path, 'hang.sock');
    const fake = await fakeDaemon(sock, 'hang');
    try {
      expect(await openRemoteEngine({ rootExplicit: false, command: 'images', env: { TBUILD_DEFAULT_SOCKET: sock } })).toBeUndefined();
    } finally {
      await fake.close();
    }
    const stale = join(tmp.path, 'stale.sock');
    await writeFile(stale, '');
    expect(await selectTarget({ rootExplicit: false, command: 'images', env: { TBUILD_DEFAULT_SOCKET: stale } })).toEqual({ kind: 'embedded' });
  });

  test('an explicit address that does not answer is a clear, coded error', async () => {
    const dead = `unix://${join(tmp.path, 'dead.sock')}`;
    const err = await openRemoteEngine({ host: dead, rootExplicit: false, command: 'images' }).catch((e: unknown) => e);
    expect(isTbuildError(err, 'TB_DAEMON_UNREACHABLE')).toBe(true);
    expect((err as Error).message).toBe(`Cannot connect to the tbuild daemon at ${dead}. Is the daemon running? (ENOENT)`);
    const bad = await openRemoteEngine({ host: 'ftp://x', rootExplicit: false, command: 'images' }).catch((e: unknown) => e);
    expect(isTbuildError(bad, 'TB_INVALID_ARGUMENT')).toBe(true);
  });

  test('the running top-level command is tracked for subcommands too', async () => {
    const program = new Command('tbuild').exitOverride();
    const current = trackCommand(program);
    const seen: Array<string | undefined> = [];
    program.command('images').action(() => void seen.push(current()));
    program.command('image').command('ls').action(() => void seen.push(current()));
    program.command('daemon').action(() => void seen.push(current()));
    for (const argv of [['images'], ['image', 'ls'], ['daemon']]) await program.parseAsync(['node', 'tbuild', ...argv]);
    expect(seen).toEqual(['images', 'image', 'daemon']);
  });

  test('openCliEngine: embedded for --root and for daemon even with -H', async () => {
    const root = join(tmp.path, 'state');
    const dead = `unix://${join(tmp.path, 'dead.sock')}`;
    for (const o of [{ host: undefined, command: 'images' }, { host: dead, command: 'daemon' }]) {
      const engine = await openCliEngine({ ...o, rootExplicit: true, root, runtime: 'runc' });
      expect(engine).toBeInstanceOf(Engine);
      await engine.close();
    }
    await expect(openCliEngine({ host: dead, command: 'images', rootExplicit: true, root, runtime: 'runc' })).rejects.toMatchObject({ code: 'TB_DAEMON_UNREACHABLE' });
  });
});
