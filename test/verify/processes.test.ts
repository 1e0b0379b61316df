import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { join } from 'node:path';
import { isRoot, mountsUnder, tempDir } from '../support/tmp.js';
import { BUSYBOX_TAR, PROJECT_ROOT, runCli } from '../support/cli.js';
import { startDaemon, type TestDaemon } from '../cli/remote/daemon.js';
import { concurrencyCampaign, crashCampaign, startCliProcess } from '../support/store-campaigns.js';

/**
 * Short runs of the hardening campaigns (`npm run stress` runs them at the sizes): many
 * processes on one root beside a daemon, and kill -9 at random points.
 */
describe.runIf(isRoot)('many processes, one store', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let daemon: TestDaemon;

  beforeAll(async () => {
    tmp = await tempDir('tb-procs-');
    daemon = await startDaemon(join(tmp.path, 'd'));
  }, 60_000);

  afterAll(async () => {
    await daemon?.stop();
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  });

  test('14 CLI processes and a daemon: every command succeeds, no tag is lost, verify is clean', async () => {
    const r = await concurrencyCampaign({
      dir: tmp.path,
      processes: 14,
      busyboxTar: BUSYBOX_TAR,
      cli: (args, o) => runCli(args, o?.viaDaemon ? { env: { TBUILD_HOST: daemon.host } } : { root: daemon.root, env: { TBUILD_HOST: '' } }),
    });
    expect(r.failures).toEqual([]);
    expect(r.lostTags).toEqual([]);
    expect(r.unreadable).toEqual([]);
    expect(r.verify.problems).toEqual([]);
  }, 300_000);

  test('system verify through the daemon', async () => {
    const r = await runCli(['system', 'verify', '--repair', '--format', 'json'], { env: { TBUILD_HOST: daemon.host } });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ problems: [], images: expect.any(Number) });
    expect((await runCli(['system', 'verify'], { env: { TBUILD_HOST: daemon.host } })).stdout).toContain('No problems found');
  }, 60_000);

  test('kill -9 mid-build and mid-load: nothing leaks, the secret never reaches the disk, the next build is right', async () => {
    const root = join(tmp.path, 'crash-root');
    const r = await crashCampaign({
      dir: tmp.path,
      root,
      kills: 8,
      busyboxTar: BUSYBOX_TAR,
      cli: (args) => runCli(args, { root, env: { TBUILD_HOST: '' } }),
      start: (args) => startCliProcess(['--import', import.meta.resolve('tsx'), join(PROJECT_ROOT, 'src', 'cli.ts'), '--root', root, ...args], { TBUILD_HOST: '' }),
    });
    expect(r.secretFiles).toEqual([]);
    expect(r.verify.problems).toEqual([]);
    expect(r.mounts).toEqual([]);
    expect(r.scratch).toEqual([]);
    expect(r.rebuilt).toBe('data\nok\n');
    expect(r.committedContainer).toBe('running');
  }, 300_000);
});
