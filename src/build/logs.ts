import { appendFile, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { digestHex } from '../util/digest.js';
import type { ProgressEvent } from './types.js';

/**
 * Every step's full output, never clipped: `<root>/logs/<build-id>/<vertex>.log`. Writes are
 * chained so a step's lines stay in order; `flush` waits for all of them.
 */
export function logWriter(dir: string): { write(e: ProgressEvent): void; flush(): Promise<void> } {
  let chain: Promise<void> = mkdir(dir, { recursive: true }).then(() => {});
  return {
    write(e) {
      if (e.type !== 'log') return;
      const file = join(dir, `${digestHex(e.vertex).slice(0, 24)}.log`);
      const data = e.data;
      chain = chain.then(() => appendFile(file, data)).catch(() => {});
    },
    flush: () => chain,
  };
}

/** Keep the logs of the last `keep` builds; older build directories are removed, oldest first. */
export async function pruneLogs(logsRoot: string, keep = 100): Promise<void> {
  const names = await readdir(logsRoot).catch(() => [] as string[]);
  if (names.length <= keep) return;
  const dated = await Promise.all(
    names.map(async (n) => ({ n, t: (await stat(join(logsRoot, n)).catch(() => undefined))?.mtimeMs ?? 0 })),
  );
  dated.sort((a, b) => a.t - b.t);
  for (const { n } of dated.slice(0, dated.length - keep)) await rm(join(logsRoot, n), { recursive: true, force: true });
}
