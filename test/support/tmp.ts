import { mkdtemp, rm, readFile, readdir } from 'node:fs/promises';
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

/**
 * Wait (up to 15 s) for the network release helpers a CLI build handed its idle namespaces to
 * (`src/network/release-helper.ts`, argv naming the state root): their namespace mounts are theirs
 * to remove, a moment after the CLI exited.
 */
export async function releaseHelpersDone(dir: string): Promise<void> {
  for (let i = 0; i < 150; i++) {
    let busy = false;
    for (const p of await readdir('/proc')) {
      if (!/^\d+$/.test(p)) continue;
      const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
      if (cmd.includes('release-helper') && cmd.includes(dir)) busy = true;
    }
    if (!busy) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Mount points at or below `dir`, from /proc/self/mountinfo (once release helpers under it are done). */
export async function mountsUnder(dir: string): Promise<string[]> {
  await releaseHelpersDone(dir);
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => !!p && (p === dir || p.startsWith(dir + '/')));
}

export const isRoot = process.getuid?.() === 0;
