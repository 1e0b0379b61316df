import { TbuildError } from '../errors.js';
import { checkMemoryLimits } from '../exec/cgroups.js';
import type { RunResources } from './types.js';

/** `BuildOptions.runResources` checked as `docker run` checks its limits, before anything runs. */
export function checkRunResources(r: RunResources): void {
  const refused = checkMemoryLimits(r.memory, r.memorySwap, '--memory-swap');
  if (refused) throw new TbuildError('TB_INVALID_ARGUMENT', refused);
  for (const [k, v] of Object.entries(r)) {
    // -1 is "unlimited" for the swap limit and the CPU quota
    const unlimited = v === -1 && (k === 'memorySwap' || k === 'cpuQuota');
    if (v !== undefined && (!Number.isInteger(v) || (v < 0 && !unlimited))) {
      throw new TbuildError('TB_INVALID_ARGUMENT', `build resource ${k} ${v}: want a whole number`);
    }
  }
  if (r.cpuPeriod && (r.cpuPeriod < 1000 || r.cpuPeriod > 1_000_000)) {
    throw new TbuildError('TB_INVALID_ARGUMENT', 'CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  }
  if (r.cpuQuota && r.cpuQuota > 0 && r.cpuQuota < 1000) throw new TbuildError('TB_INVALID_ARGUMENT', 'CPU cfs quota can not be less than 1ms (i.e. 1000)');
}
