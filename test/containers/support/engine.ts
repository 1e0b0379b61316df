import { readdir, readFile } from 'node:fs/promises';

// One wiring of the engine parts for every suite.
export { openParts, loadBusybox, openManager } from '../../support/engine-parts.js';

/** Processes whose command line mentions `text` (e.g. a temp root: shims carry it in argv). */
export async function processesMentioning(text: string): Promise<number[]> {
  const out: number[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(text)) out.push(Number(p));
  }
  return out;
}
