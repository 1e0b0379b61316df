import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import { createReadStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import tar from 'tar-stream';
import { tempDir, isRoot, mountsUnder } from '../../support/tmp.js';
import { BUSYBOX_TAR } from '../../support/cli.js';
import { RemoteEngine } from '../../../src/cli/remote/engine.js';
import { isTbuildError, type TbuildError } from '../../../src/errors.js';
import type { ProgressEvent } from '../../../src/build/types.js';
import { startDaemon, type TestDaemon } from './daemon.js';

function sink(): { stream: PassThrough; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new PassThrough();
  stream.on('data', (d: Buffer) => chunks.push(d));
  return { stream, text: () => Buffer.concat(chunks).toString() };
}

async function tarNames(stream: Readable): Promise<string[]> {
  const names: string[] = [];
  const ex = tar.extract();
  ex.on('entry', (h, s, next) => {
    names.push(h.name);
    s.on('end', next);
    s.resume();
  });
  const done = new Promise<void>((resolve, reject) => {
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  stream.pipe(ex);
  await done;
  return names.sort();
}

async function caught(p: Promise<unknown>): Promise<TbuildError> {
  try {
    await p;
  } catch (err) {
    if (isTbuildError(err)) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe.runIf(isRoot)('RemoteEngine against a real daemon', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let daemon: TestDaemon;
  let engine: RemoteEngine;

  beforeAll(async () => {
    tmp = await tempDir('tbrm-');
    daemon = await startDaemon(tmp.path);
    engine = await RemoteEngine.connect({ host: daemon.host });
  }, 60_000);

  afterAll(async () => {
    if (engine) {
      for (const c of await engine.containers.list({ all: true })) await engine.containers.remove(c.id, { force: true });
      await engine.close();
    }
    await daemon?.stop();
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  }, 60_000);

  test('version negotiation, load and the image records read back', async () => {
    expect(engine.client.apiVersion).toBe('1.47');
    expect(await engine.load(createReadStream(BUSYBOX_TAR))).toEqual(['Loaded image: busybox:local']);
    const list = await engine.images.list();
    expect(list.map((i) => i.names)).toEqual([['docker.io/library/busybox:local']]);
    const img = list[0]!;
    expect(img.id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(img.layers.map((l) => l.diffId)).toEqual(img.config.rootfs.diff_ids);
    expect(img.layers.reduce((a, l) => a + l.size, 0)).toBeGreaterThan(1_000_000);
    expect(await engine.images.resolve(img.id.slice(7, 19))).toMatchObject({ id: img.id });
    expect(await engine.images.get('nope:missing')).toBeUndefined();
    expect((await caught(engine.images.resolve('nope:missing'))).code).toBe('TB_IMAGE_NOT_FOUND');
  });

  test('tag, untag and remove', async () => {
    await engine.images.tag('busybox:local', 'remote/test:one');
    expect((await engine.images.resolve('remote/test:one')).names.sort()).toEqual(['docker.io/library/busybox:local', 'docker.io/remote/test:one']);
    expect(await engine.images.untag('remote/test:one')).toBe('docker.io/remote/test:one');
    await engine.images.tag('busybox:local', 'remote/test:two');
    expect(await engine.images.remove('remote/test:two')).toEqual([{ Untagged: 'remote/test:two' }]);
    expect((await caught(engine.images.remove('remote/test:two'))).code).toBe('TB_IMAGE_NOT_FOUND');
  });

  test('containers: run with attached io, exit code, logs, list, exec, remove', async () => {
    const c = await engine.containers.create({ image: 'busybox:local', cmd: ['sh', '-c', 'echo out; echo err >&2; exit 7'], name: 'rmt1' });
    expect(c).toMatchObject({ name: 'rmt1', image: 'busybox:local', state: { status: 'created' } });
    const out = sink();
    const err = sink();
    await engine.containers.start(c.id, { stdout: out.stream, stderr: err.stream });
    expect(await engine.containers.wait(c.id)).toEqual({ exitCode: 7 });
    expect(out.text()).toBe('out\n');
    expect(err.text()).toBe('err\n');
    const entries = [];
    for await (const e of engine.containers.logs('rmt1', { tail: 'all' })) entries.push(e);
    expect(entries.map((e) => [e.stream, e.log]).sort()).toEqual([['stderr', 'err\n'], ['stdout', 'out\n']]);
    expect(entries.every((e) => /^\d{4}-\d\d-\d\dT/.test(e.time))).toBe(true);
    const all = await engine.containers.list({ all: true });
    expect(all.find((x) => x.id === c.id)?.state).toMatchObject({ status: 'exited', exitCode: 7 });
    expect((await engine.containers.list()).find((x) => x.id === c.id)).toBeUndefined();

    const bg = await engine.containers.create({ image: 'busybox:local', cmd: ['sleep', '60'] });
    await engine.containers.start(bg.id);
    const eo = sink();
    const ex = await engine.containers.exec(bg.id, { cmd: ['sh', '-c', 'echo in-exec; exit 4'] }, { stdout: eo.stream });
    expect(ex.exitCode).toBe(4);
    expect(eo.text()).toBe('in-exec\n');
    const top = await engine.containers.top(bg.id);
    expect(top.processes.some((p) => p.join(' ').includes('sleep 60'))).toBe(true);
    await engine.containers.kill(bg.id);
    expect((await engine.containers.wait(bg.id)).exitCode).toBe(137);
    await engine.containers.remove(bg.id);
    await engine.containers.remove(c.id);
    expect((await caught(engine.containers.inspect(c.id))).code).toBe('TB_CONTAINER_NOT_FOUND');
    expect((await caught(engine.containers.create({ image: 'nope:missing' }))).code).toBe('TB_IMAGE_NOT_FOUND');
  });

  test('build: context honours .dockerignore, progress events per step, tags, failure code', async () => {
    const ctx = join(tmp.path, 'ctx');
    await mkdir(join(ctx, 'sub'), { recursive: true });
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:local\nCOPY . /ctx/\nRUN ls -A /ctx && echo built\n');
    await writeFile(join(ctx, '.dockerignore'), 'secret.txt\nsub/skip*\n');
    await writeFile(join(ctx, 'keep.txt'), 'k');
    await writeFile(join(ctx, 'secret.txt'), 's');
    await writeFile(join(ctx, 'sub', 'skip.me'), 'x');
    await writeFile(join(ctx, 'sub', 'keep.me'), 'y');
    const events: ProgressEvent[] = [];
    const res = await engine.build({ context: ctx, tags: ['remote/built:1'], onProgress: (e) => events.push(e) });
    expect(res.imageId).toMatch(/^sha256:/);
    expect(res.image?.names).toEqual(['docker.io/remote/built:1']);
    const names = events.filter((e) => e.type === 'vertex').map((e) => (e.type === 'vertex' ? e.vertex.name : ''));
    expect([...new Set(names)]).toEqual(['[1/3] FROM busybox:local', '[2/3] COPY . /ctx/', '[3/3] RUN ls -A /ctx && echo built', 'exporting to image']);
    // the export's lines, as an embedded build shows them
    expect(events.flatMap((e) => (e.type === 'status' ? [e.id] : []))).toEqual([`writing image ${res.imageId}`, 'naming to docker.io/remote/built:1']);
    const log = events.map((e) => (e.type === 'log' ? Buffer.from(e.data).toString() : '')).join('');
    expect(log).toContain('Dockerfile\nkeep.txt\nsub\nbuilt\n');
    expect(log).not.toContain('secret.txt');
    expect(res.steps).toHaveLength(3);

    await writeFile(join(ctx, 'Dockerfile.bad'), 'FROM busybox:local\nRUN echo failing; exit 3\n');
    const err = await caught(engine.build({ context: ctx, dockerfile: join(ctx, 'Dockerfile.bad') }));
    expect(err.code).toBe('TB_BUILD_FAILED');
    expect(err.details.exitCode).toBe(3);
    expect(err.details.outputTail).toContain('failing');
  }, 120_000);

  test('save and import', async () => {
    const names = await tarNames(await engine.save(['busybox:local']));
    expect(names).toContain('manifest.json');
    const rootfs = tar.pack();
    rootfs.entry({ name: 'hello.txt', size: 3, mode: 0o644 }, 'hi\n');
    rootfs.finalize();
    const img = await engine.importImage(rootfs as unknown as Readable, { name: 'remote/imported:v1', changes: ['CMD ["/hello"]'] });
    expect(img.names).toEqual(['docker.io/remote/imported:v1']);
    expect(img.config.config.Cmd).toEqual(['/hello']);
    expect(img.layers).toHaveLength(1);
    const pruned = await engine.pruneImages();
    expect(pruned.ImagesDeleted).toEqual([]);
    const df = await engine.df();
    expect(df.Images.length).toBeGreaterThanOrEqual(2);
  });

  test('a dead address is a clear coded error', async () => {
    const err = await caught(RemoteEngine.connect({ host: `unix://${tmp.path}/nothing.sock` }));
    expect(err.code).toBe('TB_DAEMON_UNREACHABLE');
    expect(err.message).toContain(`Cannot connect to the tbuild daemon at unix://${tmp.path}/nothing.sock`);
  });
});
