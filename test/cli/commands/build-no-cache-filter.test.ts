import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isRoot, mountsUnder, tempDir } from '../../support/tmp.js';
import { BUSYBOX_TAR, runCli } from '../../support/cli.js';

describe.runIf(isRoot)('build --no-cache-filter from the CLI', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let root: string;
  let ctx: string;

  beforeAll(async () => {
    tmp = await tempDir('tb-ncf-');
    root = join(tmp.path, 'root');
    ctx = join(tmp.path, 'ctx');
    await mkdir(ctx);
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:local AS base\nRUN echo base > /base\nFROM busybox:local AS other\nRUN echo other > /other\n');
    expect((await runCli(['load', '-i', BUSYBOX_TAR], { root })).code).toBe(0);
  }, 60_000);

  afterAll(async () => {
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  }, 60_000);

  test('the named stage runs again, the others stay cached', async () => {
    const first = await runCli(['build', '--progress', 'plain', ctx], { root });
    expect(first.code, first.stderr).toBe(0);
    const again = await runCli(['build', '--progress', 'plain', '--no-cache-filter', 'base', '--target', 'other', ctx], { root });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/\[other 2\/2\] RUN echo other > \/other\n#\d+ CACHED/);
    const both = await runCli(['build', '--progress', 'plain', '--no-cache-filter', 'other,base', '--target', 'other', ctx], { root });
    expect(both.code, both.stderr).toBe(0);
    expect(both.stderr).not.toMatch(/RUN echo other > \/other\n#\d+ CACHED/);
  }, 180_000);
});
