import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temporary directory; `cleanup` removes it after checking nothing is still mounted under it. */
export async function tempDir(prefix = 'tb-'): Promise<{ path: string; cleanup: () => Promise<void> }> {
  // Short base path: overlay mount options are limited to one page, so deep chains need short paths.
  const base = process.getuid?.() === 0 ? '/tmp' : tmpdir();
  const path = await mkdtemp(join(base, prefix));
  return {
    path,
    cleanup: async () => {
      const left = await mountsUnder(path);
      await rm(path, { recursive: true, force: true, maxRetries: 3 });
      if (left.length) throw new Error(`mounts left behind under ${path}: ${left.join(', ')}`);
    },
  };
}

/** Mount points at or below `dir`, from /proc/self/mountinfo. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => !!p && (p === dir || p.startsWith(dir + '/')));
}

export const isRoot = process.getuid?.() === 0;
