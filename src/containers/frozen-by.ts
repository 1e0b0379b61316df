import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ownedName, ownerAlive } from '../util/owned-temp.js';
import { containerDir } from './store.js';

/**
 * Who froze a running container for a copy, an export or a commit (`<container dir>/frozen-by`,
 * an `ownedName`). A process killed while it held the freeze would leave the container frozen
 * for good; the next process that opens the root thaws what a dead holder left frozen.
 */
const PREFIX = 'frozen';

export async function markFrozen(root: string, id: string): Promise<void> {
  await writeFile(join(containerDir(root, id), 'frozen-by'), ownedName(PREFIX));
}

export async function clearFrozen(root: string, id: string): Promise<void> {
  await rm(join(containerDir(root, id), 'frozen-by'), { force: true });
}

/** Resume every container in `ids` that a dead holder left frozen. */
export async function thawAbandoned(root: string, ids: string[], resume: (id: string) => Promise<unknown>): Promise<string[]> {
  const thawed: string[] = [];
  for (const id of ids) {
    const holder = await readFile(join(containerDir(root, id), 'frozen-by'), 'utf8').catch(() => undefined);
    if (holder === undefined || ownerAlive(holder.trim(), PREFIX)) continue;
    await resume(id).catch(() => {});
    await clearFrozen(root, id);
    thawed.push(id);
  }
  return thawed;
}
