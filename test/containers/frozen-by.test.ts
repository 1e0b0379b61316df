import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { isRoot, mountsUnder, tempDir } from '../support/tmp.js';
import { BUSYBOX_TAR, runCli } from '../support/cli.js';

/** A container frozen by a copy, export or commit whose process was killed is thawed by the next open. */
describe.runIf(isRoot)('freezes left by dead processes', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let root: string;
  const cli = (args: string[]) => runCli(args, { root });

  beforeAll(async () => {
    tmp = await tempDir('tb-frozen-');
    root = join(tmp.path, 'root');
    expect((await cli(['load', '-i', BUSYBOX_TAR])).code).toBe(0);
  }, 60_000);

  afterAll(async () => {
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  });

  test("a dead holder's freeze is undone; a user's pause is not", async () => {
    const run = await cli(['run', '-d', '--network', 'none', 'busybox:local', 'sleep', '600']);
    const id = run.stdout.trim();
    const user = (await cli(['run', '-d', '--network', 'none', 'busybox:local', 'sleep', '600'])).stdout.trim();
    try {
      expect((await cli(['pause', id])).code).toBe(0);
      expect((await cli(['pause', user])).code).toBe(0);
      // as a `docker cp` killed mid-copy leaves it: frozen, and the holder gone
      await writeFile(join(root, 'containers', id, 'frozen-by'), `frozen-${spawnSync('true').pid}.1-0123456789ab`);
      const status = async (c: string) => (await cli(['inspect', '--format', '{{.State.Status}}', c])).stdout.trim();
      expect(await status(id)).toBe('running');
      expect(await status(user)).toBe('paused');
    } finally {
      await cli(['rm', '-f', id, user]);
    }
  }, 60_000);
});
