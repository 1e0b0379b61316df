import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../support/tmp.js';
import { openParts } from '../support/engine-parts.js';
import { makeTestArchive, run, startRegistry, type TestRegistry } from '../support/registry.js';
import { Registry } from '../../src/registry/client.js';
import { pullImage } from '../../src/registry/pull.js';
import { pushImage } from '../../src/registry/push.js';

/**
 * A registry that asks every client for a certificate (`http.tls.clientcas`): Docker's
 * `certs.d/HOST:PORT/client.cert` + `client.key` are presented; without them the TLS handshake is
 * refused and the error names the registry.
 */

let dir: { path: string; cleanup: () => Promise<void> };
let reg: TestRegistry;

beforeAll(async () => {
  dir = await tempDir('tb-regmtls-');
  const archive = await makeTestArchive(dir.path);
  reg = await startRegistry('tls-client-cert');
  const copied = await run('skopeo', ['copy', '-q', ...reg.skopeoFlags('dest'), `docker-archive:${archive.file}`, `docker://${reg.host}/test/busybox:1`]);
  expect(copied.code, copied.stderr).toBe(0);
}, 120_000);
afterAll(async () => {
  await reg?.stop();
  await dir?.cleanup();
});

describe('client certificates from certs.d', () => {
  test('pull and push present the client certificate', async () => {
    const client = new Registry({ certsDir: reg.certsDir });
    try {
      const parts = await openParts(join(dir.path, 'root-a'));
      const pulled = await pullImage(parts, client, `${reg.host}/test/busybox:1`);
      expect(pulled.image.layers.length).toBeGreaterThan(0);
      const pushed = await pushImage(parts, client, `${reg.host}/copied/busybox:2`, { image: pulled.image.id });
      expect(pushed.digest).toMatch(/^sha256:/);
      const inspected = await run('skopeo', ['inspect', ...reg.skopeoFlags('src').map((f) => f.replace('--src-', '--')), `docker://${reg.host}/copied/busybox:2`]);
      expect(inspected.code, inspected.stderr).toBe(0);
    } finally {
      await client.close();
    }
  });

  test('without one, the handshake is refused and the error names the registry', async () => {
    const caOnly = join(dir.path, 'certs-ca-only');
    await cp(reg.certsDir, caOnly, { recursive: true });
    await rm(join(caOnly, reg.host, 'client.cert'));
    await rm(join(caOnly, reg.host, 'client.key'));
    const client = new Registry({ certsDir: caOnly, attempts: 1 });
    try {
      const parts = await openParts(join(dir.path, 'root-b'));
      await expect(pullImage(parts, client, `${reg.host}/test/busybox:1`)).rejects.toThrow(new RegExp(reg.host.replace(/\./g, '\\.')));
      expect(await parts.images.list()).toEqual([]);
    } finally {
      await client.close();
    }
  });

  test('a client certificate without its key is a clear error', async () => {
    const noKey = join(dir.path, 'certs-no-key');
    await cp(reg.certsDir, noKey, { recursive: true });
    await rm(join(noKey, reg.host, 'client.key'));
    const client = new Registry({ certsDir: noKey, attempts: 1 });
    try {
      await expect(pullImage(await openParts(join(dir.path, 'root-c')), client, `${reg.host}/test/busybox:1`)).rejects.toThrow(/missing key client\.key for client certificate client\.cert/);
    } finally {
      await client.close();
    }
  });
});
