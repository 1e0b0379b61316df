import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { tempDir } from '../../support/tmp.js';
import { hostileTarCampaign } from '../../support/hostile-tars.js';
import { applyTar } from '../../../src/cache/layer/index.js';
import { openContext } from '../../../src/session/open.js';

/**
 * Issue 13's campaign of generated hostile tars, short version (`npm run stress -- tars` runs
 * 10,000): every archive is applied as a layer and opened as a build context; each is confined or
 * refused with a code, never answered with a crash, a hang or a write outside.
 */
let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir('tb-hostile-');
});
afterAll(async () => {
  await tmp.cleanup();
});

const FORMAT = ['TB_TAR_HOSTILE', 'TB_TAR_FORMAT', 'TB_PATH_ESCAPE', 'TB_DECOMPRESSION_LIMIT'];

describe('1,000 generated hostile tars', () => {
  test('as layers: confined or refused with a code; nothing outside the root changes', async () => {
    const r = await hostileTarCampaign({ dir: tmp.path, count: 1000, codes: FORMAT, apply: async (tar, root) => void (await applyTar(Readable.from([tar]), root)) });
    expect(r.failures.map((f) => `${f.seed} ${f.problem} [${f.recipe.join('; ')}]`)).toEqual([]);
    expect(r.cases).toBe(1000);
    // the campaign is worth something only when both outcomes are common
    expect(r.accepted).toBeGreaterThan(50);
    expect(Object.values(r.refused).reduce((a, b) => a + b, 0)).toBeGreaterThan(300);
  }, 300_000);

  test('as build contexts: the same, and a refused context leaves no extraction behind', async () => {
    const r = await hostileTarCampaign({
      dir: tmp.path,
      count: 1000,
      seed: 1_000_001,
      codes: [...FORMAT, 'TB_CONTEXT_INVALID'],
      apply: async (tar, root) => {
        const ctx = await openContext({ tar: Readable.from([tar]) }, { root, dockerfileText: 'FROM scratch\n' });
        await ctx.dispose();
      },
      leftovers: async (root) => (await readdir(join(root, 'tmp')).catch(() => [])).map((n) => join('tmp', n)),
    });
    expect(r.failures.map((f) => `${f.seed} ${f.problem} [${f.recipe.join('; ')}]`)).toEqual([]);
    expect(r.accepted).toBeGreaterThan(50);
  }, 300_000);
});
