import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { DaemonClient } from '../../src/daemon/client.js';
import { isTbuildError } from '../../src/errors.js';
import type { JsonMessage } from '../../src/daemon/json-message.js';
import { startHarness, type Harness } from './support/harness.js';
import { fakeServices, readContext, type FakeEngine } from './support/fake-engine.js';
import { packContext, remoteBuild, remoteImages } from '../../src/daemon/remote.js';
import { testImageConfig } from './support/fake-images.js';

describe('DaemonClient', () => {
  let h: Harness;
  let engine: FakeEngine;
  let client: DaemonClient;

  beforeAll(async () => {
    h = await startHarness((root) => {
      const s = fakeServices(root);
      engine = s.engine;
      return s;
    });
    await engine.images.create({ ...testImageConfig(), names: ['busybox:local'] });
    client = new DaemonClient(h.host);
  });
  afterAll(async () => {
    await engine.containers.close();
    await h.close();
  });

  test('ping negotiates; alive() tells a dead address apart', async () => {
    expect(await client.ping()).toEqual({ apiVersion: '1.47' });
    expect(await new DaemonClient(`unix://${h.dir}/nothing.sock`).alive()).toBe(false);
  });

  test('JSON requests and Docker errors', async () => {
    const images = await client.json<Array<{ RepoTags: string[] }>>({ path: '/images/json' });
    expect(images.map((i) => i.RepoTags)).toEqual([['busybox:local']]);
    const err = await client.json({ path: '/images/ghost/json' }).catch((e: unknown) => e);
    expect(isTbuildError(err, 'TB_API_NOT_FOUND')).toBe(true);
    expect((err as Error).message).toBe('No such image: ghost');
    const created = await client.json<{ Id: string }>({ method: 'POST', path: '/containers/create', query: { name: 'viaclient' }, json: { Image: 'busybox:local', Cmd: ['echo', 'x'] } });
    expect(created.Id).toMatch(/^[0-9a-f]{64}$/);
  });

  test('a build streamed through the client', async () => {
    const p = pack();
    p.entry({ name: 'Dockerfile' }, 'FROM busybox:local\nRUN echo via-client\n');
    p.finalize();
    const msgs: JsonMessage[] = [];
    await client.messages({ method: 'POST', path: '/build', query: { t: ['c:1'] }, body: p as unknown as Readable, headers: { 'Content-Type': 'application/x-tar' } }, (m) => msgs.push(m));
    expect(msgs.map((m) => m.stream ?? '').join('')).toContain('via-client\n');
    expect(msgs.some((m) => m.aux?.ID)).toBe(true);
    const bad = pack();
    bad.entry({ name: 'Dockerfile' }, 'FROM busybox:local\nRUN exit 4\n');
    bad.finalize();
    const err = await client.messages({ method: 'POST', path: '/build', body: bad as unknown as Readable }, () => {}).catch((e: unknown) => e);
    expect((err as Error).message).toBe("The command '/bin/sh -c exit 4' returned a non-zero code: 4");
  });
});

describe('remote build and images (the CLI side of -H)', () => {
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

  test('packContext honours .dockerignore but keeps the Dockerfile', async () => {
    const dir = await h.context({
      Dockerfile: 'FROM busybox:local\n',
      '.dockerignore': '*.secret\nDockerfile\nbuild/\n!build/keep.txt\n',
      'a.secret': 's',
      'app/main.txt': 'm',
      'build/out.bin': 'o',
      'build/keep.txt': 'k',
    });
    const files = await readContext(await packContext(dir));
    expect([...files.keys()].sort()).toEqual(['.dockerignore', 'Dockerfile', 'app/main.txt', 'build/keep.txt']);
  });

  test('remoteBuild streams the classic output and returns the image id; remoteImages lists', async () => {
    const dir = await h.context({ 'sub/Dockerfile.r': 'FROM busybox:local\nRUN echo remote-run\n' });
    let text = '';
    const id = await remoteBuild(h.host, { context: dir, dockerfile: 'sub/Dockerfile.r', tags: ['remote:1'] }, (t) => (text += t));
    expect(id).toBe((await engine.images.resolve('remote:1')).id);
    expect(text).toContain('Step 2/2 : RUN echo remote-run\n');
    expect(text).toContain('remote-run\n');
    const failing = await h.context({ Dockerfile: 'FROM busybox:local\nRUN exit 9\n' });
    await expect(remoteBuild(h.host, { context: failing }, () => {})).rejects.toThrow("returned a non-zero code: 9");
    const list = await remoteImages(h.host, { filters: { reference: ['remote'] } });
    expect(list.map((i) => i.RepoTags)).toEqual([['remote:1']]);
  });
});
