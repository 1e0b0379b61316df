import { describe, test, expect, afterEach } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { tempDir } from '../support/tmp.js';
import { AttachServer, attachClient, frame, FRAME_STDOUT } from '../../src/containers/attach.js';

describe('attach client', () => {
  let tmp: { path: string; cleanup: () => Promise<void> } | undefined;
  let server: Server | undefined;

  afterEach(async () => {
    server?.close();
    server = undefined;
    await tmp?.cleanup();
    tmp = undefined;
  });

  test('without stdin it half-closes after its hello, so nothing it holds keeps the connection open', async () => {
    tmp = await tempDir('tba-');
    const path = join(tmp.path, 'a.sock');
    let peer!: Socket;
    const ended = new Promise<string>((resolve) => {
      server = createServer({ allowHalfOpen: true }, (s) => {
        peer = s;
        let got = '';
        s.on('data', (d: Buffer) => (got += d.toString()));
        s.once('end', () => resolve(got));
      });
    });
    server!.listen(path);
    await once(server!, 'listening');
    const out = new PassThrough();
    const a = await attachClient(path, { stdout: out });
    expect(await ended).toBe('{"stdin":false}\n');
    // the shim may still send output and the exit after the client's half-close
    peer.end(Buffer.concat([frame(FRAME_STDOUT, Buffer.from('late\n')), frame(3, Buffer.from('{"exitCode":4}'))]));
    expect(await a.done).toEqual({ exitCode: 4 });
    expect(out.read()?.toString()).toBe('late\n');
  });

  test('with the real attach server: output-only clients finish with the exit status', async () => {
    tmp = await tempDir('tba-');
    const srv = new AttachServer(join(tmp.path, 'attach.sock'), { stdinOnce: false, tty: false });
    await srv.listen();
    const out = new PassThrough();
    const a = await attachClient(srv.path, { stdout: out });
    await srv.firstClient;
    srv.send(FRAME_STDOUT, Buffer.from('hi\n'));
    await srv.finish({ exitCode: 0 });
    expect(await a.done).toEqual({ exitCode: 0 });
    expect(out.read()?.toString()).toBe('hi\n');
  });

  test('a shim that is gone ends the connect retries at once', async () => {
    tmp = await tempDir('tba-');
    const t0 = Date.now();
    const a = await attachClient(join(tmp.path, 'none.sock'), {}, { alive: () => false });
    expect(await a.done).toBeUndefined();
    expect(Date.now() - t0).toBeLessThan(20_000);
  });
});
