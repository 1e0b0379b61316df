import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startHarness, type Harness } from './support/harness.js';
import { request } from './support/raw.js';
import { Engine } from '../../src/engine.js';
import { servicesFor } from '../../src/daemon/services.js';
import { makeTar } from '../support/tar.js';
import { tempDir } from '../support/tmp.js';

/**
 * `POST /build` with a body that is not a usable context: a clear 400 (not a 200 whose stream
 * never ends), nothing left under the state root's tmp/, and the daemon goes on serving.
 */
describe('POST /build with a bad context (real engine)', () => {
  let h: Harness;
  let engine: Engine;
  let tmp: { path: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    tmp = await tempDir('tbbc-');
    engine = await Engine.open({ root: join(tmp.path, 'root') });
    h = await startHarness(() => servicesFor(engine));
  });
  afterAll(async () => {
    await h.close();
    await engine.close();
    await tmp.cleanup();
  });

  const build = (body: Buffer) =>
    request(h.socket, 'POST', '/v1.47/build?t=bad', body, { 'Content-Type': 'application/x-tar', 'Content-Length': String(body.length) });

  test('truncated tar and random bytes get a 400 naming the problem; no temp state is left', async () => {
    const tar = await makeTar([
      { name: 'Dockerfile', content: 'FROM scratch\nCOPY blob /\n' },
      { name: 'blob', content: randomBytes(600_000).toString('base64') },
    ]);
    const truncated = await build(tar.subarray(0, 300_000));
    expect(truncated.status).toBe(400);
    expect(truncated.json<{ message: string }>().message).toMatch(/tar/i);

    const junk = randomBytes(3_000_000);
    junk[0] = 0; // never text
    const notTar = await build(junk);
    expect(notTar.status).toBe(400);
    expect(notTar.json<{ message: string }>().message).toContain('neither a tar archive');

    expect(await readdir(join(tmp.path, 'root', 'tmp')).catch(() => [])).toEqual([]);
    // still serving, and a good context builds
    expect((await request(h.socket, 'GET', '/_ping')).status).toBe(200);
    const good = await build(await makeTar([{ name: 'Dockerfile', content: 'FROM scratch\nLABEL ok=1\n' }]));
    expect(good.status).toBe(200);
    expect(good.body.toString()).toContain('Successfully built');
  });
});
