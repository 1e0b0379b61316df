import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mountPointsUnder, unmount } from '../util/mount.js';
import { ownedName, ownerAlive } from '../util/owned-temp.js';

/**
 * Scratch directories that name their owner (`ownedName`), by where they live under the root and
 * their prefix. The engine sweeps what dead processes left when it opens and when a build starts;
 * `system verify` lists them (a daemon runs for weeks while embedded CLIs beside it may crash).
 */
const OWNED_SCRATCH: Array<{ dir: string[]; prefix: string; what: string }> = [
  { dir: ['tmp'], prefix: 'b', what: "a build's scratch" },
  { dir: ['tmp'], prefix: 'ctx', what: 'a build context sent as a tar' },
  { dir: ['tmp'], prefix: 'ctxview', what: 'a filtered build context view' },
  { dir: ['images', 'tmp'], prefix: 'load', what: 'a staged image load' },
  { dir: ['registry', 'tmp'], prefix: 'pull', what: 'downloaded layers of a pull' },
  { dir: ['buildkit', 'tmp'], prefix: 'solve', what: "a BuildKit API build's scratch" },
  { dir: ['tmp'], prefix: 'dbg', what: "a debug container's mounts" },
  { dir: ['cache', 'git', 'trees'], prefix: 'tmp', what: "a git commit's files being written" },
];

export interface DeadScratch {
  path: string;
  what: string;
  /** Mount points still under it (a RUN step's rootfs, a secret's tmpfs), deepest first. */
  mounts: string[];
}

/** What processes that are gone left in the scratch directories. */
export async function findDeadScratch(root: string): Promise<DeadScratch[]> {
  const out: DeadScratch[] = [];
  for (const s of OWNED_SCRATCH) {
    const dir = join(root, ...s.dir);
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (!name.startsWith(`${s.prefix}-`) || ownerAlive(name, s.prefix)) continue;
      const path = join(dir, name);
      out.push({ path, what: s.what, mounts: mountPointsUnder(path) });
    }
  }
  return out;
}

const STARTED = 'started';

/**
 * A build's scratch directory, made when the build starts and holding its start time: a prune in
 * any process leaves what builds still running made since then alone (they may not have recorded
 * their results yet). Returns the directory.
 */
export async function startBuildScratch(root: string, buildId: string): Promise<string> {
  const dir = join(root, 'tmp', ownedName('b', buildId));
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, STARTED), String(Date.now()));
  return dir;
}

/** Start times (ms) of the builds running in live processes on this root. */
export async function liveBuildStarts(root: string): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir(join(root, 'tmp')).catch(() => [] as string[])) {
    if (!name.startsWith('b-') || !ownerAlive(name, 'b')) continue;
    const t = Number(await readFile(join(root, 'tmp', name, STARTED), 'utf8').catch(() => ''));
    // A directory whose start is not written yet is a build starting now.
    out.push(Number.isFinite(t) && t > 0 ? t : Date.now());
  }
  return out;
}

/** Unmount what is mounted under it, then remove it. */
export async function removeDeadScratch(s: DeadScratch): Promise<void> {
  for (const m of s.mounts) await unmount(m).catch(() => {});
  await rm(s.path, { recursive: true, force: true });
}

/** Best effort: one that cannot go now (busy) is tried again at the next open. */
export async function sweepDeadScratch(root: string): Promise<void> {
  for (const s of await findDeadScratch(root)) await removeDeadScratch(s).catch(() => {});
}
