import { test, expect } from 'vitest';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { onPath } from '../../src/util/process.js';
import { tempDir } from '../support/tmp.js';

test('onPath finds the executable file a spawn would run, skipping non-executables and directories', async () => {
  const t = await tempDir('tbpath-');
  try {
    const [a, b, c] = ['a', 'b', 'c'].map((d) => join(t.path, d));
    await mkdir(join(a, 'tool'), { recursive: true }); // a directory of that name
    await mkdir(b);
    await writeFile(join(b, 'tool'), 'not executable');
    await mkdir(c);
    await writeFile(join(c, 'tool'), '#!/bin/sh\n');
    await chmod(join(c, 'tool'), 0o755);
    expect(onPath('tool', `${a}::${b}:${c}`)).toBe(join(c, 'tool'));
    // a relative entry is another directory to a spawn with a cwd of its own: not taken
    expect(onPath('tool', `${relative(process.cwd(), c)}:${b}`)).toBe('tool');
    // a path is taken as it is; a name found nowhere is left for the spawn to report
    expect(onPath('./tool', c)).toBe('./tool');
    expect(onPath('no-such-tool', `${a}:${b}:${c}`)).toBe('no-such-tool');
  } finally {
    await t.cleanup();
  }
});
