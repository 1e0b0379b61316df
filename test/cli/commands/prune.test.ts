import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { join } from 'node:path';
import { BUSYBOX_TAR, runCli } from '../../support/cli.js';
import { isRoot, tempDir } from '../../support/tmp.js';

/**
 * The prune commands ask first, as Docker's do (`-f` skips the question), and take Docker's
 * filters; `images --filter reference=` shows only the matching names of an image.
 */
describe.runIf(isRoot)('prune: confirmation and filters', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let root: string;
  const env = { TBUILD_HOST: '' };
  const cli = (args: string[], input = '') => runCli(args, { root, env, input });
  const names = async () => (await cli(['ps', '-a', '--format', '{{.Names}}'])).stdout.trim().split('\n').filter(Boolean).sort();

  beforeAll(async () => {
    tmp = await tempDir('tb-prune-');
    root = join(tmp.path, 'root');
    expect((await runCli(['load', '-i', BUSYBOX_TAR], { root })).code).toBe(0);
    for (const [name, tier] of [['a', 'x'], ['b', 'y'], ['c', 'x']]) {
      expect((await cli(['create', '--name', name!, '--label', `tier=${tier}`, '--network', 'none', 'busybox:local', 'true'])).code).toBe(0);
    }
  }, 120_000);
  afterAll(async () => {
    await cli(['rm', '-f', 'a', 'b', 'c']);
    await cli(['network', 'rm', 'keepnet', 'dropnet']);
    await tmp?.cleanup();
  });

  test('container prune: "n" keeps everything, label filters pick, -f does not ask', async () => {
    const no = await cli(['container', 'prune'], 'n\n');
    expect(no.code).toBe(0);
    expect(no.stdout).toBe('WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ');
    expect(await names()).toEqual(['a', 'b', 'c']);
    const bad = await cli(['container', 'prune', '-f', '--filter', 'name=a']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("invalid filter 'name'");
    const picked = await cli(['container', 'prune', '--filter', 'label=tier=y'], 'y\n');
    expect(picked.code).toBe(0);
    expect(picked.stdout).toMatch(/Deleted Containers:\n[0-9a-f]{64}\n\nTotal reclaimed space: \d+(\.\d+)?[kMG]?B\n$/);
    expect(await names()).toEqual(['a', 'c']);
    // created just now: an `until` an hour ago keeps them
    expect((await cli(['container', 'prune', '-f', '--filter', 'until=1h'])).stdout).toBe('Total reclaimed space: 0B\n');
    expect(await names()).toEqual(['a', 'c']);
  });

  test('network prune and system prune take the same filters', async () => {
    expect((await cli(['network', 'create', '--label', 'keep=1', 'keepnet'])).code).toBe(0);
    expect((await cli(['network', 'create', 'dropnet'])).code).toBe(0);
    const no = await cli(['network', 'prune'], '\n');
    expect(no.stdout).toContain('WARNING! This will remove all custom networks not used by at least one container.');
    const pruned = await cli(['network', 'prune', '-f', '--filter', 'label!=keep']);
    expect(pruned.stdout).toBe('Deleted Networks:\ndropnet\n\n');
    expect((await cli(['network', 'ls', '--format', '{{.Name}}', '-f', 'type=custom'])).stdout).toBe('keepnet\n');
    const system = await cli(['system', 'prune', '-f', '--filter', 'label=tier=x']);
    expect(system.code, system.stderr).toBe(0);
    expect(await names()).toEqual([]);
    // keepnet has no tier label: kept
    expect((await cli(['network', 'ls', '--format', '{{.Name}}', '-f', 'type=custom'])).stdout).toBe('keepnet\n');
    expect((await cli(['system', 'prune', '-f', '--filter', 'dangling=true'])).stderr).toContain("invalid filter 'dangling'");
  });

  test('images --filter reference= lists the matching names only; image prune asks and filters', async () => {
    expect((await cli(['tag', 'busybox:local', 'myrepo/bb:v1'])).code).toBe(0);
    const byName = await cli(['images', '--format', '{{.Repository}}:{{.Tag}}', '--filter', 'reference=busybox']);
    expect(byName.stdout).toBe('busybox:local\n');
    expect((await cli(['images', '--format', '{{.Repository}}:{{.Tag}}', '--filter', 'reference=myrepo/*'])).stdout).toBe('myrepo/bb:v1\n');
    const both = await cli(['images', '--format', '{{.Repository}}:{{.Tag}}', '-f', 'reference=myrepo/*', '-f', 'reference=busybox:local']);
    expect(both.stdout.trim().split('\n').sort()).toEqual(['busybox:local', 'myrepo/bb:v1']);
    const no = await cli(['image', 'prune', '-a', '--filter', 'until=1h'], 'n\n');
    expect(no.stdout).toContain('Are you sure you want to continue? [y/N] ');
    expect((await cli(['images', '-q'])).stdout.trim()).not.toBe('');
    // the image was made in 2023: a cut-off before that, or a label it lacks, keeps it
    expect((await cli(['image', 'prune', '-af', '--filter', 'until=2020-01-01T00:00:00Z'])).stdout).toBe('Total reclaimed space: 0B\n');
    expect((await cli(['image', 'prune', '-af', '--filter', 'label=nothing.has.this'])).stdout).toBe('Total reclaimed space: 0B\n');
    expect((await cli(['image', 'prune', '-f', '--filter', 'reference=x'])).stderr).toContain("invalid filter 'reference'");
    const pruned = await cli(['image', 'prune', '-af', '--filter', 'until=1h']);
    expect(pruned.stdout).toContain('untagged: myrepo/bb:v1');
    expect(pruned.stdout).toMatch(/deleted: sha256:[0-9a-f]{64}\n\nTotal reclaimed space: [1-9][0-9.]*[kM]B\n$/);
    expect((await cli(['images', '-q'])).stdout).toBe('');
  });
});
