import { expect, test } from 'vitest';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../../support/cli.js';
import { tempDir } from '../../support/tmp.js';

test('a --root that does not exist is created with a one-line notice naming it, in scripts too; after that, nothing', async () => {
  const t = await tempDir('tb-newroot-');
  try {
    const root = join(t.path, 'typo', 'root');
    // --root as an argument: runCli's `root` option would make the directory first
    const first = await runCli(['--root', root, 'images', '-q']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toBe(`tbuild: creating state root ${root} (it did not exist)\n`);
    expect(first.stdout).toBe('');
    expect(existsSync(root)).toBe(true);
    const again = await runCli(['--root', root, 'images', '-q']);
    expect(again.stderr).toBe('');
  } finally {
    await t.cleanup();
  }
});

test('a root named by $TBUILD_ROOT or data-root in the settings file gets the notice too, naming where it came from', async () => {
  const t = await tempDir('tb-newroot-');
  try {
    const fromEnv = join(t.path, 'env-root');
    const a = await runCli(['images', '-q'], { env: { TBUILD_ROOT: fromEnv, TBUILD_HOST: '' } });
    expect(a.code, a.stderr).toBe(0);
    expect(a.stderr).toBe(`tbuild: creating state root ${fromEnv} (it did not exist; from $TBUILD_ROOT)\n`);
    const fromFile = join(t.path, 'file-root');
    const config = join(t.path, 'daemon.json');
    await writeFile(config, JSON.stringify({ 'data-root': fromFile }));
    const b = await runCli(['images', '-q'], { env: { TBUILD_CONFIG: config, TBUILD_HOST: '' } });
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).toBe(`tbuild: creating state root ${fromFile} (it did not exist; from file ${config})\n`);
    expect((await runCli(['images', '-q'], { env: { TBUILD_CONFIG: config, TBUILD_HOST: '' } })).stderr).toBe('');
  } finally {
    await t.cleanup();
  }
});
