import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdir, readdir, readlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BUSYBOX_TAR } from '../../support/cli.js';

const run = promisify(execFile);

/** Extract busybox:local's single layer from the shared docker-archive into `dir`. */
export async function busyboxRootfs(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const { stdout } = await run('tar', ['xOf', BUSYBOX_TAR, 'manifest.json']);
  const layer = (JSON.parse(stdout) as Array<{ Layers: string[] }>)[0]!.Layers[0]!;
  await run('sh', ['-c', `tar xOf "$1" "$2" | tar x -C "$3"`, 'sh', BUSYBOX_TAR, layer, dir]);
  return dir;
}

/** runc containers still known under `runcRoot`. */
export async function runcContainers(runcRoot: string): Promise<string[]> {
  if (!existsSync(runcRoot)) return [];
  const { stdout } = await run('runc', ['--root', runcRoot, 'list', '-q']);
  return stdout.split('\n').filter(Boolean);
}

/** Pids of processes whose root directory is at or below `dir` (i.e. still running in our containers). */
export async function processesUnder(dir: string): Promise<number[]> {
  const out: number[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const root = await readlink(`/proc/${p}/root`).catch(() => '');
    if (root === dir || root.startsWith(dir + '/')) out.push(Number(p));
  }
  return out;
}

/** cgroup directories left for `/tbuild/<id>` in any hierarchy. */
export async function cgroupsLeft(id: string): Promise<string[]> {
  const base = '/sys/fs/cgroup';
  const dirs = existsSync(join(base, 'cgroup.controllers')) ? [base] : (await readdir(base)).map((c) => join(base, c));
  return dirs.map((d) => join(d, 'tbuild', id)).filter((d) => existsSync(d));
}
