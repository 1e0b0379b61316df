import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { tempDir, isRoot, mountsUnder } from '../../support/tmp.js';
import { runCli, BUSYBOX_TAR } from '../../support/cli.js';
import { spawnPty } from '../../support/pty.js';
import { PROJECT_ROOT } from '../../support/paths.js';
import { startChildDaemon, type ChildDaemon } from '../../daemon/support/child-daemon.js';

/**
 * `tbuild diff`, `export`, `commit` (and `container diff|export|commit`), embedded and through a
 * daemon; `cp` shows Docker's progress and summary on a terminal only.
 */
describe.runIf(isRoot)('container filesystem commands', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let root: string;
  let daemon: ChildDaemon | undefined;

  beforeAll(async () => {
    tmp = await tempDir('tbcfs-');
    root = join(tmp.path, 'state');
    expect((await runCli(['load', '-i', BUSYBOX_TAR], { root })).code).toBe(0);
  });

  afterAll(async () => {
    for (const id of (await runCli(['ps', '-aq'], { root })).stdout.split('\n').filter(Boolean)) await runCli(['rm', '-f', id], { root });
    if (daemon) {
      for (const id of (await daemon.docker(['ps', '-aq'])).stdout.split('\n').filter(Boolean)) await daemon.docker(['rm', '-f', id]);
      expect(await daemon.stop()).toBe(0);
    }
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  });

  for (const mode of ['embedded', 'daemon'] as const) {
    test(`diff, export and commit (${mode})`, async () => {
      let cli = (args: string[]) => runCli(args, { root });
      if (mode === 'daemon') {
        daemon = await startChildDaemon(join(tmp.path, 'd'));
        expect((await daemon.docker(['load', '-i', BUSYBOX_TAR])).code).toBe(0);
        const host = `unix://${daemon.socket}`;
        cli = (args: string[]) => runCli(['-H', host, ...args]);
      }
      const name = `fs-${mode}`;
      const r = await cli(['run', '-d', '--name', name, '--network', 'none', 'busybox:local', 'sh', '-c', 'echo made > /made.txt && rm /bin/arch && sleep 600']);
      expect(r.code, r.stderr).toBe(0);
      let diff = '';
      for (let i = 0; i < 50 && !diff.includes('D /bin/arch'); i++) {
        diff = (await cli(['diff', name])).stdout;
        if (!diff.includes('D /bin/arch')) await new Promise((res) => setTimeout(res, 100));
      }
      expect(diff.split('\n')).toEqual(expect.arrayContaining(['A /made.txt', 'C /bin', 'D /bin/arch']));
      expect((await cli(['container', 'diff', name])).stdout).toBe(diff);
      const tarFile = join(tmp.path, `${mode}.tar`);
      const exported = await cli(['export', '-o', tarFile, name]);
      expect(exported.code, exported.stderr).toBe(0);
      const listing = execFileSync('tar', ['-tf', tarFile], { encoding: 'utf8' }).split('\n');
      expect(listing).toEqual(expect.arrayContaining(['made.txt', 'bin/busybox']));
      expect(listing).not.toContain('bin/arch');
      const committed = await cli(['commit', '-c', 'ENV FROM_COMMIT=1', '-m', 'by the test', '-a', 'Tess <t@x>', name, `committed-${mode}:1`]);
      expect(committed.code, committed.stderr).toBe(0);
      expect(committed.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
      const out = await cli(['run', '--rm', '--network', 'none', `committed-${mode}:1`, 'sh', '-c', 'cat /made.txt; echo $FROM_COMMIT; test -e /bin/arch || echo no-arch']);
      expect(out.stdout).toBe('made\n1\nno-arch\n');
      const meta = await cli(['inspect', '-f', '{{.Author}}|{{.Comment}}', `committed-${mode}:1`]);
      expect(meta.stdout.trim()).toBe('Tess <t@x>|by the test');
      const missing = await cli(['commit', 'no-such-container']);
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toContain('No such container: no-such-container');
    }, 120_000);
  }

  test('cp: progress and "Successfully copied" on a terminal, nothing extra in a pipe, -q silences it', async () => {
    expect((await runCli(['run', '-d', '--name', 'cp-src', '--network', 'none', 'busybox:local', 'sh', '-c', 'head -c 3000000 /dev/zero > /big && sleep 600'], { root })).code).toBe(0);
    for (let i = 0; i < 50; i++) {
      if ((await runCli(['exec', 'cp-src', 'test', '-s', '/big'], { root })).code === 0) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const dest = join(tmp.path, 'big-copy');
    const piped = await runCli(['cp', 'cp-src:/big', dest], { root });
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stderr).toBe('');
    const tty = spawnPty([process.execPath, '--import', 'tsx', join(PROJECT_ROOT, 'src', 'cli.ts'), '--root', root, 'cp', 'cp-src:/big', `${dest}-tty`], { env: { ...process.env } });
    expect(await tty.exited).toBe(0);
    expect(tty.output()).toMatch(/Copying from container - [\d.]+\s?[kMG]?B/);
    expect(tty.output()).toMatch(new RegExp(`Successfully copied 3(\\.\\d+)?MB to ${dest}-tty`));
    const quiet = spawnPty([process.execPath, '--import', 'tsx', join(PROJECT_ROOT, 'src', 'cli.ts'), '--root', root, 'cp', '-q', 'cp-src:/big', `${dest}-q`], { env: { ...process.env } });
    expect(await quiet.exited).toBe(0);
    expect(quiet.output()).not.toContain('Successfully copied');
  }, 120_000);

  test('commit on a terminal shows the changes copied, then the layer written against their size', async () => {
    const made = await runCli(['run', '--name', 'commit-big', '--network', 'none', 'busybox:local', 'sh', '-c', 'head -c 3000000 /dev/urandom > /big'], { root });
    expect(made.code, made.stderr).toBe(0);
    const tty = spawnPty([process.execPath, '--import', 'tsx', join(PROJECT_ROOT, 'src', 'cli.ts'), '--root', root, 'commit', 'commit-big', 'committed:big'], { env: { ...process.env } });
    expect(await tty.exited).toBe(0);
    expect(tty.output()).toMatch(/Copying changes 3(\.\d+)?MB/);
    expect(tty.output()).toMatch(/Writing layer 3(\.\d+)?MB\/3(\.\d+)?MB \d+%/);
    expect(tty.output()).toMatch(/sha256:[0-9a-f]{64}/);
    // in a pipe: the id alone
    const piped = await runCli(['commit', 'commit-big', 'committed:big2'], { root });
    expect(piped.stderr).toBe('');
    expect(piped.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    expect((await runCli(['rmi', 'committed:big', 'committed:big2'], { root })).code).toBe(0);
  }, 120_000);

  test('save -o on a terminal shows done/total with a percentage (the total from the layers it writes)', async () => {
    const file = join(tmp.path, 'saved.tar');
    const tty = spawnPty([process.execPath, '--import', 'tsx', join(PROJECT_ROOT, 'src', 'cli.ts'), '--root', root, 'save', '-o', file, 'busybox:local'], { env: { ...process.env } });
    expect(await tty.exited).toBe(0);
    expect(tty.output()).toMatch(/Saving [\d.]+[kM]?B\/[\d.]+[kM]?B \d+% /);
    expect((await runCli(['load', '-i', file], { root })).stdout).toBe('Loaded image: busybox:local\n');
  }, 60_000);
});
