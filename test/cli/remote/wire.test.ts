import { expect, test } from 'vitest';
import { existsSync } from 'node:fs';
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
