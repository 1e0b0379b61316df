import { afterEach, expect, test } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { untar } from '../../../src/worker/file/untar.js';
import { resolveInRoot } from '../../../src/util/confine.js';
import { scanXattrs } from '../../../src/cache/fsops.js';
import { makeTar, type TarEntry } from '../../support/tar.js';
import { tempDir } from '../../support/tmp.js';

let tmp: { path: string; cleanup: () => Promise<void> } | undefined;
afterEach(async () => {
  await tmp?.cleanup();
  tmp = undefined;
});

/** A context nested 2,000 directories deep used to crash the xattr scan (recursion) and take minutes to extract. */
test('a 2,000-deep tree extracts, resolves and scans (nothing recursive on the way)', async () => {
  tmp = await tempDir('tb-deep-');
  const entries: TarEntry[] = [];
  let p = '';
  for (let i = 0; i < 2000; i++) {
    p += 'x/';
    entries.push({ name: p, type: 'directory', mode: 0o755 });
  }
  entries.push({ name: `${p}leaf`, content: 'deep\n' });
  const stats = await untar(Readable.from([await makeTar(entries)]), { root: tmp.path, dir: '/ctx', owner: 'none', specials: 'refuse' });
  expect(stats.files).toBe(1);
  const host = await resolveInRoot(tmp.path, `/ctx/${p}leaf`);
  expect(host).toBe(join(tmp.path, 'ctx', p, 'leaf'));
  expect(await readFile(host, 'utf8')).toBe('deep\n');
  // `..` all the way up stays inside the root
  expect(await resolveInRoot(tmp.path, `/ctx/${p}${'../'.repeat(2100)}etc`)).toBe(join(tmp.path, 'etc'));
  expect((await scanXattrs(join(tmp.path, 'ctx'))).size).toBeGreaterThanOrEqual(0);
});
