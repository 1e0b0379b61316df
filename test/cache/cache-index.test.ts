import { test, expect } from 'vitest';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../support/tmp.js';
import { openCacheIndex } from '../../src/cache/cache-index.js';
import { sha256, digestHex, type Digest } from '../../src/util/digest.js';

test('set, get, walk, delete; records survive reopening; damaged records are misses', async () => {
  const t = await tempDir('tbi-');
  try {
    const idx = await openCacheIndex(t.path);
    const k1 = sha256('k1');
    const k2 = sha256('k2');
    expect(await idx.get(k1)).toBeUndefined();
    await idx.set({ key: k1, snapshot: 'snap-1', meta: { env: ['A=1'] }, created: '2026-01-01T00:00:00Z' });
    await idx.set({ key: k2, created: '2026-01-02T00:00:00Z' });
    await idx.set({ key: k1, snapshot: 'snap-1b', created: '2026-01-03T00:00:00Z' });
    const again = await openCacheIndex(t.path);
    expect(await again.get(k1)).toEqual({ key: k1, snapshot: 'snap-1b', created: '2026-01-03T00:00:00Z' });
    const keys: string[] = [];
    for await (const r of again.walk()) keys.push(r.key);
    expect(keys.sort()).toEqual([k1, k2].sort());
    expect((await readdir(join(t.path, 'cache/keys'))).sort()).toEqual([`${digestHex(k1)}.json`, `${digestHex(k2)}.json`].sort());
    await again.delete(k2);
    await again.delete(k2); // idempotent
    expect(await again.get(k2)).toBeUndefined();
    await writeFile(join(t.path, 'cache/keys', `${digestHex(k1)}.json`), '{"key": "sha256:tor');
    expect(await again.get(k1)).toBeUndefined();
    await expect(again.get('nope' as Digest)).rejects.toMatchObject({ code: 'TB_INVALID_ARGUMENT' });
  } finally {
    await t.cleanup();
  }
});
