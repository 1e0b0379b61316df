import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createReadStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isRoot, mountsUnder, tempDir } from '../support/tmp.js';
import { BUSYBOX_TAR } from '../support/cli.js';
import { Engine } from '../../src/engine.js';

/** Every step that ran says why it did not come from the cache, in the build record. */
describe.runIf(isRoot)('cache miss reasons', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let engine: Engine;
  let ctx: string;

  beforeAll(async () => {
    tmp = await tempDir('tb-reasons-');
    engine = await Engine.open({ root: join(tmp.path, 'root') });
    await engine.load(createReadStream(BUSYBOX_TAR));
    ctx = join(tmp.path, 'ctx');
    await mkdir(ctx);
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:local AS base\nRUN echo base > /base\nFROM base\nCOPY app.txt /app.txt\nRUN cat /app.txt > /copy\n');
    await writeFile(join(ctx, 'app.txt'), 'one\n');
  }, 60_000);

  afterAll(async () => {
    await engine?.close();
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  });

  const reasons = async () => Object.fromEntries((await engine.records.get('last')).steps.filter((s) => s.reason).map((s) => [s.name, s.reason]));

  test('first build, a changed file, a step built on it, --no-cache, --no-cache-filter', async () => {
    await engine.build({ context: ctx, network: 'none' });
    expect(await reasons()).toEqual({
      '[base 2/2] RUN echo base > /base': 'no cache record for this step on these inputs (not built here before, or pruned)',
      '[stage-1 1/2] COPY app.txt /app.txt': 'a step it builds on ran: [base 2/2] RUN echo base > /base',
      '[stage-1 2/2] RUN cat /app.txt > /copy': 'a step it builds on ran: [stage-1 1/2] COPY app.txt /app.txt',
    });
    await engine.build({ context: ctx, network: 'none' });
    expect(await reasons()).toEqual({});
    await writeFile(join(ctx, 'app.txt'), 'two\n');
    await engine.build({ context: ctx, network: 'none' });
    expect(await reasons()).toEqual({
      '[stage-1 1/2] COPY app.txt /app.txt': 'the files it reads changed since it last ran here',
      '[stage-1 2/2] RUN cat /app.txt > /copy': 'a step it builds on ran: [stage-1 1/2] COPY app.txt /app.txt',
    });
    await engine.build({ context: ctx, network: 'none', noCache: true });
    expect(Object.values(await reasons())).toEqual(Array(3).fill('the build asked for no cache (--no-cache)'));
    await engine.build({ context: ctx, network: 'none', noCacheFilter: ['base'] });
    expect(await reasons()).toMatchObject({ '[base 2/2] RUN echo base > /base': 'its stage is in --no-cache-filter (base)' });
  }, 120_000);
});
