import { describe, expect, test } from 'vitest';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../support/tmp.js';
import { ownedName, ownerAlive, sweepDeadOwners } from '../../src/util/owned-temp.js';
import { processStart } from '../../src/util/process.js';

describe('scratch state that names its owner', () => {
  test('only what a dead (or pid-reusing) owner left is swept', async () => {
    const dir = await tempDir('tb-owned-');
    try {
      const mine = ownedName('load');
      expect(mine).toMatch(new RegExp(`^load-${process.pid}\\.\\d+-[0-9a-f]{12}$`));
      expect(ownerAlive(mine, 'load')).toBe(true);
      // pid 1 lives, but not since that start time: a reused pid is not the owner
      const reused = `load-1.${Number(processStart(1)) + 1}-abcdef`;
      const dead = 'load-4194305.1-abcdef';
      const legacy = 'load-0123456789abcdef';
      for (const n of [mine, reused, dead, legacy, 'other-4194305.1-ab']) await mkdir(join(dir.path, n));
      expect(await sweepDeadOwners(dir.path, 'load')).toBe(3);
      expect((await readdir(dir.path)).sort()).toEqual([mine, 'other-4194305.1-ab']);
    } finally {
      await dir.cleanup();
    }
  });
});
