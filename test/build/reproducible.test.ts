import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createReadStream, existsSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { isRoot, mountsUnder, tempDir } from '../support/tmp.js';
import { BUSYBOX_TAR, runCli } from '../support/cli.js';
import { Engine } from '../../src/engine.js';

/**
 * Reproducible images: the same context built in two fresh state roots at different times with
 * SOURCE_DATE_EPOCH gives the same image id and manifest digest, and `save` of both is byte for byte
 * the same; the new layers' mtimes are clamped to the epoch (BuildKit's rewrite-timestamp).
 */
describe.runIf(isRoot)('SOURCE_DATE_EPOCH', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let ctx: string;
  const engines: Engine[] = [];

  beforeAll(async () => {
    tmp = await tempDir('tb-repro-');
    ctx = join(tmp.path, 'ctx');
    await mkdir(ctx);
    await writeFile(join(ctx, 'app.txt'), 'the app\n');
    await writeFile(
      join(ctx, 'Dockerfile'),
      'FROM busybox:local\nCOPY app.txt /app/\nRUN mkdir -p /data && echo built > /data/out && touch /data/stamp\nRUN --mount=type=cache,target=/c echo cached > /c/x\nCOPY --link app.txt /linked/\n',
    );
  }, 60_000);

  afterAll(async () => {
    for (const e of engines) await e.close();
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  }, 60_000);

  async function fresh(name: string): Promise<Engine> {
    const e = await Engine.open({ root: join(tmp.path, name) });
    engines.push(e);
    await e.load(createReadStream(BUSYBOX_TAR));
    return e;
  }

  const digestOf = async (stream: Readable): Promise<string> => {
    const h = createHash('sha256');
    for await (const c of stream) h.update(c as Buffer);
    return h.digest('hex');
  };

  test('two fresh roots, seconds apart: the same image, byte for byte; without the epoch, not', async () => {
    const buildArgs = { SOURCE_DATE_EPOCH: '1700000000' };
    const a = await (await fresh('a')).build({ context: ctx, tags: ['repro:1'], buildArgs, network: 'none' });
    await new Promise((r) => setTimeout(r, 2100));
    const eb = await fresh('b');
    const b = await eb.build({ context: ctx, tags: ['repro:1'], buildArgs, network: 'none' });
    expect(b.imageId).toBe(a.imageId);
    expect(b.digest).toBe(a.digest);
    expect(await digestOf(await engines[1]!.save(['repro:1']))).toBe(await digestOf(await engines[0]!.save(['repro:1'])));
    const config = (await eb.images.resolve('repro:1')).config;
    expect(config.created).toBe('2023-11-14T22:13:20.000Z');
    expect(config.history?.every((h) => h.created === '2023-11-14T22:13:20.000Z' || h.created! < '2023-11-14T22:13:20.000Z')).toBe(true);

    // the control: without the epoch the two builds differ (file times), so the test above means something
    const c = await (await fresh('c')).build({ context: ctx, tags: ['repro:1'], network: 'none' });
    await new Promise((r) => setTimeout(r, 1100));
    const d = await (await fresh('d')).build({ context: ctx, tags: ['repro:1'], network: 'none' });
    expect(d.imageId).not.toBe(c.imageId);
    // and a cached build without the epoch does not give back the clamped layers (they are other results)
    const again = await eb.build({ context: ctx, tags: ['repro:2'], network: 'none' });
    expect(again.imageId).not.toBe(b.imageId);
  }, 180_000);

  test('built 400 days later (libfaketime moves the clock of the CLI and everything it runs): the same image, byte for byte', async () => {
    const buildArgs = { SOURCE_DATE_EPOCH: '1700000000' };
    const today = await (await fresh('today')).build({ context: ctx, tags: ['repro:1'], buildArgs, network: 'none' });
    const lib = readdirSync('/usr/lib').map((d) => join('/usr/lib', d, 'faketime', 'libfaketime.so.1')).find((f) => existsSync(f));
    expect(lib, 'faketime is installed by scripts/setup.sh').toBeDefined();
    const later = { LD_PRELOAD: lib!, FAKETIME: '+400d' };
    const root = join(tmp.path, 'later');
    // the clock really moved: an image made without the epoch says so
    expect((await runCli(['load', '-i', BUSYBOX_TAR], { root, env: later })).code).toBe(0);
    expect((await runCli(['build', '-q', '-t', 'unpinned', '--network', 'none', ctx], { root, env: later })).code).toBe(0);
    const created = (await runCli(['inspect', '-f', '{{.Created}}', 'unpinned'], { root })).stdout.trim();
    expect(Date.parse(created) - Date.now()).toBeGreaterThan(399 * 86_400_000);
    const built = await runCli(['build', '-q', '-t', 'repro:1', '--network', 'none', '--build-arg', 'SOURCE_DATE_EPOCH=1700000000', ctx], { root, env: later });
    expect(built.stderr).toBe('');
    expect(built.stdout.trim()).toBe(today.imageId);
    const saved = join(tmp.path, 'later.tar');
    expect((await runCli(['save', '-o', saved, 'repro:1'], { root, env: later })).code).toBe(0);
    expect(await digestOf(createReadStream(saved))).toBe(await digestOf(await engines.at(-1)!.save(['repro:1'])));
  }, 180_000);
});
