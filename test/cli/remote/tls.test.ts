import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { tempDir, isRoot } from '../../support/tmp.js';
import { runCli } from '../../support/cli.js';
import { RemoteEngine } from '../../../src/cli/remote/engine.js';
import { startDaemon, type TestDaemon } from './daemon.js';

const run = promisify(execFile);

/** A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, as DOCKER_CERT_PATH lays them out. */
async function makeCerts(dir: string): Promise<void> {
  const o = (...args: string[]) => run('openssl', args, { cwd: dir });
  await o('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=tbuild-test-ca', '-keyout', 'ca-key.pem', '-out', 'ca.pem');
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await writeFile(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, subj] of [['server', '/CN=127.0.0.1'], ['client', '/CN=client']] as const) {
    const key = name === 'client' ? 'key.pem' : 'server-key.pem';
    const cert = name === 'client' ? 'cert.pem' : 'server-cert.pem';
    await o('req', '-newkey', 'rsa:2048', '-nodes', '-subj', subj, '-keyout', key, '-out', `${name}.csr`);
    await o('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', '1', '-extfile', `${name}.ext`, '-out', cert);
  }
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

describe.runIf(isRoot)('TCP with TLS', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let daemon: TestDaemon;
  let host: string;

  beforeAll(async () => {
    tmp = await tempDir('tbtls-');
    await makeCerts(tmp.path);
    host = `tcp://127.0.0.1:${await freePort()}`;
    const c = (f: string) => join(tmp.path, f);
    daemon = await startDaemon(tmp.path, {
      extraHost: host,
      daemonArgs: ['--tlsverify', '--tlscacert', c('ca.pem'), '--tlscert', c('server-cert.pem'), '--tlskey', c('server-key.pem')],
    });
  }, 60_000);

  afterAll(async () => {
    await daemon?.stop();
    await tmp.cleanup();
  });

  test('a client certificate gets in; none is refused', async () => {
    const c = (f: string) => join(tmp.path, f);
    const engine = await RemoteEngine.connect({ host, tls: { ca: c('ca.pem'), cert: c('cert.pem'), key: c('key.pem') } });
    expect(await engine.images.list()).toEqual([]);
    await engine.close();
    await expect(RemoteEngine.connect({ host, tls: { ca: c('ca.pem') } })).rejects.toThrow();
  });

  test('the CLI takes its certificates from $TBUILD_CERT_PATH', async () => {
    const r = await runCli(['-H', host, 'images', '-q'], { env: { TBUILD_CERT_PATH: tmp.path, TBUILD_ROOT: join(tmp.path, 'stray') } });
    expect(r).toEqual({ code: 0, stdout: '', stderr: '' });
    // It went to the daemon: no local state root was opened.
    await expect(stat(join(tmp.path, 'stray'))).rejects.toMatchObject({ code: 'ENOENT' });
    const noCert = await runCli(['-H', host, 'images', '-q'], { env: { TBUILD_ROOT: join(tmp.path, 'stray') } });
    expect(noCert.code).toBe(1);
  });
});
