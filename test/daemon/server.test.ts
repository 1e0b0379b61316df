import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { connect } from 'node:net';
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pack } from 'tar-stream';
import { Daemon } from '../../src/daemon/server.js';
import { acquireDaemonLock } from '../../src/daemon/lock.js';
import { isTbuildError } from '../../src/errors.js';
import { tempDir } from '../support/tmp.js';
import { runCli } from '../support/cli.js';
import { startHarness, type Harness } from './support/harness.js';
import { fakeServices, type FakeEngine } from './support/fake-engine.js';
import { testImageConfig } from './support/fake-images.js';
import { request } from './support/raw.js';

describe('daemon HTTP surface (engine doubles)', () => {
  let h: Harness;
  let engine: FakeEngine;

  beforeAll(async () => {
    h = await startHarness((root) => {
      const s = fakeServices(root);
      engine = s.engine;
      return s;
    });
    await engine.images.create({ ...testImageConfig(), names: ['busybox:local'] });
  });
  afterAll(async () => {
    await engine.containers.close();
    await h.close();
  });

  test('socket is mode 0660 and the lock holds our pid', async () => {
    expect(statSync(h.socket).mode & 0o777).toBe(0o660);
    expect(readFileSync(join(h.dir, 'root', 'daemon.lock'), 'utf8').trim()).toBe(String(process.pid));
  });

  test('_ping GET and HEAD carry the negotiation headers', async () => {
    for (const method of ['GET', 'HEAD']) {
      const r = await request(h.socket, method, '/_ping');
      expect(r.status).toBe(200);
      expect(r.headers['api-version']).toBe('1.47');
      expect(r.headers['builder-version']).toBe('1');
      expect(r.headers['ostype']).toBe('linux');
      expect(r.headers['docker-experimental']).toBe('false');
      expect(r.headers['cache-control']).toBe('no-cache, no-store, must-revalidate');
      expect(r.body.toString()).toBe(method === 'GET' ? 'OK' : '');
    }
  });

  test('a keep-alive connection idle for 7 s still serves the next request, as dockerd does (clients keep their idle sockets 5 s)', async () => {
    const s = connect(h.socket);
    let text = '';
    s.on('data', (d: Buffer) => (text += d.toString()));
    const responses = async (n: number) => {
      for (let i = 0; i < 200 && (text.match(/HTTP\/1\.1 200/g) ?? []).length < n; i++) await new Promise((r) => setTimeout(r, 25));
      return (text.match(/HTTP\/1\.1 200/g) ?? []).length;
    };
    try {
      s.write('GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n');
      expect(await responses(1)).toBe(1);
      await new Promise((r) => setTimeout(r, 7_000));
      expect(s.destroyed || s.readyState !== 'open').toBe(false);
      s.write('GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n');
      expect(await responses(2)).toBe(2);
    } finally {
      s.destroy();
    }
  }, 20_000);

  test("out-of-range API versions are refused with Docker's text; unversioned paths work", async () => {
    const tooNew = await request(h.socket, 'GET', '/v1.99/version');
    expect(tooNew.status).toBe(400);
    expect(tooNew.json()).toEqual({ message: 'client version 1.99 is too new. Maximum supported API version is 1.47' });
    const tooOld = await request(h.socket, 'GET', '/v1.10/version');
    expect(tooOld.json<{ message: string }>().message).toBe(
      'client version 1.10 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version',
    );
    const plain = await request(h.socket, 'GET', '/version');
    expect(plain.json<{ ApiVersion: string }>().ApiVersion).toBe('1.47');
    const old = await request(h.socket, 'GET', '/v1.41/images/json');
    expect(old.status).toBe(200);
  });

  test('GET /images/json?shared-size=1 gives what each image shares with the others; without it SharedSize is -1', async () => {
    const two = await engine.images.create({ ...testImageConfig({ labels: { second: '1' } }), names: ['shared:two'] });
    try {
      const plain = await request(h.socket, 'GET', '/v1.47/images/json');
      expect(plain.json<Array<{ SharedSize: number }>>().every((i) => i.SharedSize === -1)).toBe(true);
      const shared = await request(h.socket, 'GET', '/v1.47/images/json?shared-size=1');
      const rows = shared.json<Array<{ Id: string; SharedSize: number; Size: number }>>();
      const row = rows.find((i) => i.Id === two.id)!;
      // both images stand on the same 4 MB layer
      expect(row.SharedSize).toBe(4_000_000);
      expect(row.Size).toBe(4_000_000);
    } finally {
      await engine.images.remove(two.id, { force: true });
    }
  });

  test('errors are {"message"} with Docker status codes', async () => {
    expect((await request(h.socket, 'GET', '/v1.47/nope')).status).toBe(404);
    const img = await request(h.socket, 'GET', '/v1.47/images/ghost/json');
    expect(img.status).toBe(404);
    expect(img.json()).toEqual({ message: 'No such image: ghost' });
    const ctr = await request(h.socket, 'GET', '/v1.47/containers/ghost/json');
    expect(ctr.json()).toEqual({ message: 'No such container: ghost' });
    const badFilter = await request(h.socket, 'GET', `/v1.47/containers/json?filters=${encodeURIComponent('{"bogus":["x"]}')}`);
    expect(badFilter.status).toBe(400);
    expect(badFilter.json()).toEqual({ message: "invalid filter 'bogus'" });
    await request(h.socket, 'POST', '/v1.47/containers/create?name=dup', JSON.stringify({ Image: 'busybox:local' }), { 'Content-Type': 'application/json' });
    const dup = await request(h.socket, 'POST', '/v1.47/containers/create?name=dup', JSON.stringify({ Image: 'busybox:local' }), { 'Content-Type': 'application/json' });
    expect(dup.status).toBe(409);
    // `docker rm --link dup` asks to remove a legacy link: refused, and the container stays
    const link = await request(h.socket, 'DELETE', '/v1.47/containers/dup?link=1');
    expect(link.status).toBe(400);
    expect(link.json<{ message: string }>().message).toMatch(/link=1 \(docker rm --link\): tbuild has no legacy container links/);
    expect((await request(h.socket, 'GET', '/v1.47/containers/dup/json')).status).toBe(200);
    await request(h.socket, 'DELETE', '/v1.47/containers/dup');
  });

  test('malformed JSON bodies are 400; unknown fields are ignored; the daemon keeps serving', async () => {
    const bad = await request(h.socket, 'POST', '/v1.47/containers/create', '{"Image": "busybox:local",', { 'Content-Type': 'application/json' });
    expect(bad.status).toBe(400);
    expect(bad.json<{ message: string }>().message).toMatch(/^invalid JSON body/);
    const notObj = await request(h.socket, 'POST', '/v1.47/containers/create', '[1,2]');
    expect(notObj.status).toBe(400);
    const wrongType = await request(h.socket, 'POST', '/v1.47/containers/create', JSON.stringify({ Image: 'busybox:local', Env: 'A=1', HostConfig: [] }));
    expect(wrongType.status).toBe(400);
    const extra = await request(h.socket, 'POST', '/v1.47/containers/create?name=extra', JSON.stringify({ Image: 'busybox:local', FutureField: { x: 1 } }));
    expect(extra.status).toBe(201);
    await request(h.socket, 'DELETE', '/v1.47/containers/extra');
    const badQuery = await request(h.socket, 'POST', '/v1.47/build?buildargs=%7Bnot-json');
    expect(badQuery.status).toBe(400);
    // Garbage that is not HTTP at all
    await new Promise<void>((resolve) => {
      const s = connect(h.socket, () => s.end('\x00\x01 this is not http\r\n\r\n'));
      s.on('data', () => {});
      s.on('close', () => resolve());
    });
    expect((await request(h.socket, 'GET', '/_ping')).status).toBe(200);
  });

  test('request bodies over the limit are refused', async () => {
    const big = JSON.stringify({ Image: 'busybox:local', Env: ['X=' + 'y'.repeat(11 * 1024 * 1024)] });
    const r = await request(h.socket, 'POST', '/v1.47/containers/create', big).catch((e: Error) => ({ status: -1, e }));
    // Either the 413 arrives or the connection is cut while we are still sending; never a 201.
    expect([413, -1]).toContain(r.status);
    expect((await request(h.socket, 'GET', '/_ping')).status).toBe(200);
  });

  test('archive PUT and GET refuse paths that escape (mapped to 400)', async () => {
    await request(h.socket, 'POST', '/v1.47/containers/create?name=arch', JSON.stringify({ Image: 'busybox:local' }));
    const p = pack();
    p.entry({ name: 'x.txt' }, 'x');
    p.finalize();
    const chunks: Buffer[] = [];
    for await (const c of p) chunks.push(c as Buffer);
    const put = await request(h.socket, 'PUT', `/v1.47/containers/arch/archive?path=${encodeURIComponent('/../../etc')}`, Buffer.concat(chunks), { 'Content-Type': 'application/x-tar' });
    expect(put.status).toBe(400);
    const head = await request(h.socket, 'HEAD', `/v1.47/containers/arch/archive?path=${encodeURIComponent('/../x')}`);
    expect(head.status).toBe(400);
    const ok = await request(h.socket, 'HEAD', '/v1.47/containers/arch/archive?path=/tmp');
    const stat = JSON.parse(Buffer.from(String(ok.headers['x-docker-container-path-stat']), 'base64').toString()) as { mode: number; name: string };
    expect(stat.name).toBe('tmp');
    expect(stat.mode).toBe(2 ** 31 + 0o755);
    await request(h.socket, 'DELETE', '/v1.47/containers/arch');
  });

  test('a context upload cut off mid-stream fails the build cleanly', async () => {
    const before = engine.builds;
    await new Promise<void>((resolve) => {
      const s = connect(h.socket, () => {
        s.write('POST /v1.47/build?t=cut HTTP/1.1\r\nHost: d\r\nContent-Type: application/x-tar\r\nContent-Length: 10000000\r\n\r\n');
        const p = pack();
        p.entry({ name: 'Dockerfile' }, 'FROM busybox:local\n');
        p.entry({ name: 'big', size: 9_000_000 });
        p.on('data', (c: unknown) => s.write(c as Buffer));
        setTimeout(() => {
          s.destroy();
          resolve();
        }, 200);
      });
      s.on('error', () => {});
    });
    for (let i = 0; i < 50 && engine.builds === before; i++) await new Promise((r) => setTimeout(r, 20));
    expect(engine.builds).toBe(before + 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(await engine.images.get('cut')).toBeUndefined();
    expect(h.daemon.app.inFlight()).toBe(0);
    expect((await request(h.socket, 'GET', '/_ping')).status).toBe(200);
  });

  test('100 concurrent container lists while a build streams all succeed', async () => {
    const p = pack();
    p.entry({ name: 'Dockerfile' }, 'FROM busybox:local\nRUN echo a\nRUN echo b\n');
    p.finalize();
    const chunks: Buffer[] = [];
    for await (const c of p) chunks.push(c as Buffer);
    const build = request(h.socket, 'POST', '/v1.47/build?t=concurrent', Buffer.concat(chunks));
    const lists = await Promise.all(Array.from({ length: 100 }, () => request(h.socket, 'GET', '/v1.47/containers/json?all=1')));
    expect(lists.every((r) => r.status === 200 && Array.isArray(r.json()))).toBe(true);
    const b = await build;
    expect(b.body.toString()).toContain('Successfully tagged concurrent:latest');
  });

  test('a slow client does not block others', async () => {
    const slow = connect(h.socket);
    await new Promise((r) => slow.once('connect', r));
    slow.write('POST /v1.47/containers/create HTTP/1.1\r\nHost: d\r\nContent-Length: 1000\r\n\r\n{"Ima');
    const t = Date.now();
    expect((await request(h.socket, 'GET', '/v1.47/info')).status).toBe(200);
    expect(Date.now() - t).toBeLessThan(10_000);
    slow.destroy();
  });
});

describe('daemon lifecycle', () => {
  test('one daemon per root; a stale lock from a dead pid is taken over', async () => {
    const tmp = await tempDir('tbl-');
    try {
      const root = join(tmp.path, 'root');
      await mkdir(root);
      const held = await acquireDaemonLock(root);
      const err = await acquireDaemonLock(root).catch((e: unknown) => e);
      expect(isTbuildError(err, 'TB_LOCKED')).toBe(true);
      await held.release();
      // a pid that cannot exist
      await writeFile(join(root, 'daemon.lock'), '999999999\n');
      const taken = await acquireDaemonLock(root);
      expect(readFileSync(join(root, 'daemon.lock'), 'utf8').trim()).toBe(String(process.pid));
      await taken.release();
      expect(existsSync(join(root, 'daemon.lock'))).toBe(false);
    } finally {
      await tmp.cleanup();
    }
  });

  test('a stale socket file is replaced; a live one is refused', async () => {
    const tmp = await tempDir('tbs-');
    try {
      const sock = join(tmp.path, 'd.sock');
      // A socket file nobody answers on: left by a killed process.
      execFileSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => process.exit(0))`]);
      expect(existsSync(sock)).toBe(true);
      const a = await Daemon.start({ hosts: [`unix://${sock}`], root: join(tmp.path, 'r1'), services: fakeServices(tmp.path) });
      expect((await request(sock, 'GET', '/_ping')).status).toBe(200);
      const err = await Daemon.start({ hosts: [`unix://${sock}`], root: join(tmp.path, 'r2'), services: fakeServices(tmp.path) }).catch((e: unknown) => e);
      expect(isTbuildError(err, 'TB_LOCKED')).toBe(true);
      // the refused second daemon released its own lock
      expect(existsSync(join(tmp.path, 'r2', 'daemon.lock'))).toBe(false);
      await a.stop();
      expect(existsSync(sock)).toBe(false);
    } finally {
      await tmp.cleanup();
    }
  });

  test('plain TCP beyond loopback is refused before anything listens', async () => {
    const tmp = await tempDir('tbt-');
    try {
      const r = await runCli(['daemon', '-H', 'tcp://0.0.0.0:23750', '--root', join(tmp.path, 'root')]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('refusing to listen on tcp://0.0.0.0:23750 without TLS');
      expect(existsSync(join(tmp.path, 'root'))).toBe(false);
    } finally {
      await tmp.cleanup();
    }
  }, 60_000);

  test('plain TCP on loopback is refused too, unless --tls=false, which warns; the CLI refuses a plain tcp:// daemon', async () => {
    const tmp = await tempDir('tbt-');
    try {
      const r = await runCli(['daemon', '-H', 'tcp://127.0.0.1:23751', '--root', join(tmp.path, 'root')]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('refusing to listen on tcp://127.0.0.1:23751 without TLS');
      expect(r.stderr).toContain('--tls=false');
      expect(existsSync(join(tmp.path, 'root'))).toBe(false);
      await expect(Daemon.start({ hosts: ['tcp://127.0.0.1:0'], root: join(tmp.path, 'r2'), services: fakeServices(tmp.path) })).rejects.toThrow(/without TLS/);
      const c = await runCli(['-H', 'tcp://127.0.0.1:1', 'images'], { env: { TBUILD_CERT_PATH: '', TBUILD_TLS_VERIFY: '' } });
      expect(c.code).not.toBe(0);
      expect(c.stderr).toContain('refusing to talk to tcp://127.0.0.1:1 without TLS');
      const i = await runCli(['-H', 'tcp://127.0.0.1:1', '--tls=false', 'images'], { env: { TBUILD_CERT_PATH: '', TBUILD_TLS_VERIFY: '' } });
      expect(i.stderr).toContain('WARNING: talking to the tbuild daemon over plain TCP');
      expect(i.stderr).toContain('Cannot connect'); // nothing listens there: it got as far as trying
    } finally {
      await tmp.cleanup();
    }
  }, 60_000);

  test('loopback TCP works; TLS requires a client certificate signed by the CA', async () => {
    const tmp = await tempDir('tbtls-');
    const dir = tmp.path;
    const ssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    ssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=test-ca']);
    for (const who of ['server', 'client']) {
      ssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=${who === 'server' ? '127.0.0.1' : 'client'}`]);
      await writeFile(join(dir, `${who}.ext`), who === 'server' ? 'subjectAltName=IP:127.0.0.1\n' : 'extendedKeyUsage=clientAuth\n');
      ssl(['x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${who}.pem`, '-days', '1', '-extfile', `${who}.ext`]);
    }
    const lines: string[] = [];
    const plain = await Daemon.start({ hosts: ['tcp://127.0.0.1:0'], root: join(dir, 'plain'), services: fakeServices(dir), insecureTcp: true, log: (l) => lines.push(l) });
    expect(lines.join('\n')).toMatch(/WARNING: API listening on tcp:\/\/127\.0\.0\.1:\d+ WITHOUT TLS/);
    const tls = await Daemon.start({
      hosts: ['tcp://0.0.0.0:0'],
      root: join(dir, 'tls'),
      tls: { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key') },
      services: fakeServices(dir),
    });
    try {
      const plainPort = Number(plain.addresses[0]!.split(':').pop());
      const ping = await fetch(`http://127.0.0.1:${plainPort}/_ping`);
      expect(await ping.text()).toBe('OK');
      const port = Number(tls.addresses[0]!.split(':').pop());
      const get = (withCert: boolean) =>
        new Promise<number>((resolve, reject) => {
          const req = https.request(
            {
              host: '127.0.0.1',
              port,
              path: '/_ping',
              ca: readFileSync(join(dir, 'ca.pem')),
              ...(withCert ? { cert: readFileSync(join(dir, 'client.pem')), key: readFileSync(join(dir, 'client.key')) } : {}),
            },
            (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            },
          );
          req.on('error', reject);
          req.end();
        });
      expect(await get(true)).toBe(200);
      await expect(get(false)).rejects.toThrow();
    } finally {
      await plain.stop();
      await tls.stop();
      await tmp.cleanup();
    }
  }, 60_000);
});
