import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Bytes of what lies under `dir`: the sizes of its files and symlinks, each hard-linked inode once,
 * directories not counted. This is how Docker sizes a layer (overlay2's DiffSize) and a volume, so
 * a 6-byte COPY is 6 B, not the few KiB of its tar.
 */
export async function contentBytes(dir: string): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        await walk(p);
        continue;
      }
      const st = await lstat(p).catch(() => undefined);
      if (!st || !st.size || seen.has(`${st.dev}:${st.ino}`)) continue;
      seen.add(`${st.dev}:${st.ino}`);
      total += st.size;
    }
  };
  await walk(dir);
  return total;
}
