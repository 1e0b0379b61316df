import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, isRoot } from '../../support/tmp.js';
import { runCli } from '../../support/cli.js';
import { RemoteEngine } from '../../../src/cli/remote/engine.js';
import { startDaemon, type TestDaemon } from './daemon.js';
import { freePort, makeCerts } from '../../support/certs.js';


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
