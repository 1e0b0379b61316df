import { describe, test, expect, afterEach } from 'vitest';
import http from 'node:http';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { tempDir } from '../../support/tmp.js';
import { EngineClient } from '../../../src/cli/remote/client.js';
import { pumpHijacked } from '../../../src/cli/remote/streams.js';
import { frame, STDOUT, STDERR } from '../../../src/api/wire/multiplex.js';

/** A scripted Engine API server on a temp unix socket. */
async function serve(handler: http.RequestListener, onUpgrade?: (req: http.IncomingMessage, socket: import('node:stream').Duplex) => void) {
  const tmp = await tempDir('tbcl-');
  const path = join(tmp.path, 's.sock');
  const server = http.createServer(handler);
  if (onUpgrade) server.on('upgrade', onUpgrade);
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    host: `unix://${path}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await tmp.cleanup();
    },
  };
}

function collect(): { s: PassThrough; text: () => string } {
  const s = new PassThrough();
  const chunks: Buffer[] = [];
  s.on('data', (d: Buffer) => chunks.push(d));
  return { s, text: () => Buffer.concat(chunks).toString() };
}

describe('EngineClient', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  test('negotiates down to an older daemon and prefixes paths with that version', async () => {
    const seen: string[] = [];
    const srv = await serve((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      if (req.url === '/_ping') res.writeHead(200, { 'Api-Version': '1.41' }).end('OK');
      else res.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify({ message: 'No such image: x' }));
    });
    close = srv.close;
    const client = new EngineClient({ host: srv.host });
    expect(await client.ping()).toEqual({ apiVersion: '1.41' });
    await expect(client.json('GET', '/images/x/json')).rejects.toMatchObject({ code: 'TB_IMAGE_NOT_FOUND', message: 'No such image: x' });
    expect(seen).toEqual(['GET /_ping', 'GET /v1.41/images/x/json']);
    client.close();
  });

  test('JSON-message streams split across chunks; a non-JSON line is kept as text', async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"stream":"Step 1/1 : FROM x\\n"}\r\n{"aux":{"ID":"sha');
      setTimeout(() => res.end('256:ab"}}\r\nplain text\r\n'), 20);
    });
    close = srv.close;
    const client = new EngineClient({ host: srv.host });
    const got = [];
    for await (const m of client.messages('POST', '/build')) got.push(m);
    expect(got).toEqual([{ stream: 'Step 1/1 : FROM x\n' }, { aux: { ID: 'sha256:ab' } }, { stream: 'plain text\n' }]);
    client.close();
  });

  test('hijacked attach: upgraded, demultiplexed, stdin forwarded and half-closed', async () => {
    const srv = await serve(
      (_req, res) => res.writeHead(500).end(),
      (_req, socket) => {
        socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
        const input: Buffer[] = [];
        socket.on('data', (d: Buffer) => input.push(d));
        socket.on('end', () => {
          socket.write(frame(STDOUT, Buffer.from(`got ${Buffer.concat(input).toString()}`)));
          socket.write(frame(STDERR, Buffer.from('e')));
          socket.end();
        });
      },
    );
    close = srv.close;
    const client = new EngineClient({ host: srv.host });
    const conn = await client.hijack('POST', '/containers/x/attach', { query: { stream: true, stdin: true } });
    expect(conn.multiplexed).toBe(true);
    const out = collect();
    const err = collect();
    const stdin = new PassThrough();
    const done = pumpHijacked(conn, { stdin, stdout: out.s, stderr: err.s });
    stdin.end('abc');
    await done;
    expect(out.text()).toBe('got abc');
    expect(err.text()).toBe('e');
    client.close();
  });

  test('a daemon that answers an attach without upgrading still streams its output', async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/vnd.docker.raw-stream' });
      res.end('raw tty bytes');
    });
    close = srv.close;
    const client = new EngineClient({ host: srv.host });
    const conn = await client.hijack('POST', '/containers/x/attach', { query: { stream: true } });
    expect(conn.multiplexed).toBe(false);
    const out = collect();
    await pumpHijacked(conn, { stdout: out.s });
    expect(out.text()).toBe('raw tty bytes');
    client.close();
  });

  test('an error before the switch is the daemon message with its code', async () => {
    const srv = await serve((_req, res) => res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"message":"No such container: x"}'));
    close = srv.close;
    const client = new EngineClient({ host: srv.host });
    await expect(client.hijack('POST', '/containers/x/attach')).rejects.toMatchObject({ code: 'TB_CONTAINER_NOT_FOUND', message: 'No such container: x' });
    client.close();
  });
});
