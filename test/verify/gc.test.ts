import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createReadStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isRoot, mountsUnder, tempDir } from '../support/tmp.js';
import { BUSYBOX_TAR } from '../support/cli.js';
import { Engine } from '../../src/engine.js';

/** The automatic build-cache GC after builds (daemon.json `builder.gc`, on by default). */
describe.runIf(isRoot)('automatic build cache GC', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    tmp = await tempDir('tb-gc-');
  });
  afterAll(async () => {
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  });

  const committed = async (engine: Engine) => {
    const out: string[] = [];
    for await (const s of engine.snapshots.walk()) if (s.kind === 'committed' && !s.labels['tbuild.container']) out.push(s.name);
    return out;
  };

  test('a build trims the cache to the kept size, never below what images stand on', async () => {
    const root = join(tmp.path, 'root');
    const ctx = join(tmp.path, 'ctx');
    await mkdir(ctx);
    // the first stage's layer is build cache only; the image stands on busybox and the COPY
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:local AS work\nARG V\nRUN echo $V > /v\nFROM busybox:local\nCOPY --from=work /v /v\n');
    let engine = await Engine.open({ root, gc: { keepStorage: 0 } });
    await engine.load(createReadStream(BUSYBOX_TAR));
    const base = await committed(engine);
    await engine.build({ context: ctx, network: 'none', buildArgs: { V: 'kept' }, tags: ['kept:x'] });
    // closing waits for the collection the build started
    await engine.close();
    engine = await Engine.open({ root, gc: false });
    try {
      const kept = (await engine.images.resolve('kept:x')).layers.map((l) => l.snapshot);
      expect((await committed(engine)).sort()).toEqual([...new Set([...base, ...kept])].sort());
    } finally {
      await engine.close();
    }
  }, 120_000);

  test('"enabled": false keeps everything', async () => {
    const root = join(tmp.path, 'root-off');
    const ctx = join(tmp.path, 'ctx');
    const engine = await Engine.open({ root, gc: false });
    try {
      await engine.load(createReadStream(BUSYBOX_TAR));
      const before = (await committed(engine)).length;
      await engine.build({ context: ctx, network: 'none', buildArgs: { V: 'stays' } });
      expect((await committed(engine)).length).toBe(before + 2);
    } finally {
      await engine.close();
    }
  }, 120_000);
});
