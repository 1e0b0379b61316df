import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TbuildError } from '../errors.js';
import { cgroupInfo, checkMemoryLimits } from '../exec/cgroups.js';
import type { ContainerRuntime, Resources } from '../exec/types.js';
import type { ContainerUpdate } from './types.js';
import type { StoredConfig, StoredState } from './store.js';

/** Docker's floor for a memory limit. */

/**
 * `docker update`: check the new limits as Docker does, apply them to a running container's
 * cgroup with `runc update`, and return the config to store (later starts use it too). A restart
 * policy change is read by the container's monitor at the container's next exit.
 */
export async function updateContainer(control: ContainerRuntime, c: StoredConfig, s: StoredState, changes: ContainerUpdate): Promise<StoredConfig> {
  const r = changes.resources ?? {};
  const memory = r.memory || c.options.resources?.memory;
  // a new swap limit is checked against the memory limit the container will have
  const refused = checkMemoryLimits(r.memory, undefined) ?? (r.memorySwap ? checkMemoryLimits(memory, r.memorySwap) : undefined);
  if (refused) throw new TbuildError('TB_INVALID_ARGUMENT', refused);
  if (changes.restartPolicy && changes.restartPolicy.name !== 'no' && c.options.autoRemove) {
    throw new TbuildError('TB_INVALID_ARGUMENT', 'Restart policy cannot be updated because AutoRemove is enabled for the container');
  }
  const { memorySwap } = r;
  const resources: Resources = { ...(c.options.resources ?? {}) };
  for (const [k, v] of Object.entries(r) as Array<[keyof Resources, number | undefined]>) if (v) resources[k] = v;
  // a new memory limit without a swap limit means no swap, as at create
  if (r.memory && memorySwap === undefined) delete resources.memorySwap;
  if (r.cpuQuota && !resources.cpuPeriod) resources.cpuPeriod = 100_000;

  if (s.status === 'running' || s.status === 'paused') {
    const args = ['update'];
    if (r.memory) {
      args.push('--memory', String(r.memory));
      // tbuild runs containers without swap (memsw = memory) unless a swap limit is given
      if (cgroupInfo().swapAccounting) args.push('--memory-swap', String(memorySwap ?? r.memory));
    } else if (memorySwap !== undefined) {
      args.push('--memory-swap', String(memorySwap));
    }
    if (r.cpuQuota) args.push('--cpu-quota', String(r.cpuQuota), '--cpu-period', String(resources.cpuPeriod ?? 100_000));
    else if (r.cpuPeriod) args.push('--cpu-period', String(r.cpuPeriod));
    if (r.cpuShares) args.push('--cpu-share', String(r.cpuShares));
    if (r.pidsLimit) args.push('--pids-limit', String(r.pidsLimit));
    if (args.length > 1) {
      await control.runtimeCommand([...args, c.id]).catch((err: unknown) => {
        throw new TbuildError('TB_RUNTIME_FAILED', `Cannot update container ${c.id}: ${(err as Error).message}`, { cause: err });
      });
      if (r.memory) await moveOomParent(s.pid, r.memory);
    }
  }
  return {
    ...c,
    options: { ...c.options, resources, ...(changes.restartPolicy ? { restartPolicy: changes.restartPolicy } : {}) },
    runtime: { ...c.runtime, resources },
  };
}

/**
 * On cgroup v1 a container started with a memory limit sits under a parent whose limit is one
 * page lower (see exec/cgroups.ts prepareOomParent): it moves with the container's limit, or the
 * old one would still bind (or OOM detection would miss).
 */
async function moveOomParent(pid: number, memory: number): Promise<void> {
  if (cgroupInfo().version === 2 || !pid) return;
  const line = (await readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => '')).split('\n').find((l) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l));
  const path = line?.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
  if (!path || !path.endsWith('/ctr')) return;
  const parent = join('/sys/fs/cgroup/memory', path.slice(0, -'/ctr'.length));
  await writeFile(join(parent, 'memory.limit_in_bytes'), String(Math.max(memory - 4096, 4096))).catch((err: unknown) => {
    throw new TbuildError('TB_RUNTIME_FAILED', `Cannot update container memory: ${(err as Error).message}`, { cause: err });
  });
}
