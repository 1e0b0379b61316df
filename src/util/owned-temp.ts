import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { processAlive, processStart } from './process.js';

/**
 * Scratch state that names its owner: `<prefix>-<pid>.<start>-<hex>`. Many tbuild processes share
 * one state root (a daemon and any number of embedded CLIs), so a start-up sweep may remove only
 * what a dead process left; the start time keeps a reused pid from passing for the owner.
 */
export function ownedName(prefix: string, hex = randomBytes(6).toString('hex')): string {
  return `${prefix}-${process.pid}.${processStart(process.pid)}-${hex}`;
}

/** Whether the process that made `name` (an `ownedName` with this prefix) still runs. */
export function ownerAlive(name: string, prefix: string): boolean {
  const m = new RegExp(`^${prefix}-(\\d+)\\.(\\d+)-[0-9a-f]+$`).exec(name);
  // Names that carry no owner come from versions that did not record one: nobody live made them.
  if (!m) return false;
  const pid = Number(m[1]);
  return processAlive(pid) && processStart(pid) === m[2];
}

/** Remove the entries of `dir` named `<prefix>-…` whose owner is gone; returns how many. */
export async function sweepDeadOwners(
  dir: string,
  prefix: string,
  remove: (path: string) => Promise<void> = (p) => rm(p, { recursive: true, force: true }),
): Promise<number> {
  let n = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.startsWith(`${prefix}-`) || ownerAlive(name, prefix)) continue;
    await remove(join(dir, name)).then(() => n++, () => {});
  }
  return n;
}
