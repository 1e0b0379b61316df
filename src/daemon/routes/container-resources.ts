import type { ContainerManager, ContainerUpdate, StatsSample } from '../../containers/types.js';
import type { Router } from '../router.js';
import type { DaemonServices } from '../types.js';
import { badRequest, boolParam, readJson, sendJson } from '../http.js';

/**
 * `docker stats` and `docker update`: a running container's counters (Docker's stats JSON, with
 * the previous sample as `precpu_stats` so clients can compute CPU %), and new cgroup limits and
 * restart policy.
 */

/** Time between the two samples of a one-shot answer (Docker's collector ticks each second). */
const PRE_SAMPLE_MS = 100;
const STREAM_INTERVAL_MS = 1000;

function withPrevious(name: string, id: string, now: StatsSample, pre: StatsSample | undefined): Record<string, unknown> {
  return {
    ...now,
    name: `/${name}`,
    id,
    preread: pre?.read ?? '0001-01-01T00:00:00Z',
    precpu_stats: pre?.cpu_stats ?? { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, system_cpu_usage: 0, online_cpus: 0, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } },
  };
}

/** `POST /containers/{id}/update` fields this daemon carries out; any other set field is refused by name. */
const UPDATE_FIELDS = new Set(['Memory', 'MemorySwap', 'NanoCpus', 'CpuQuota', 'CpuPeriod', 'CpuShares', 'PidsLimit', 'RestartPolicy']);

export function updateFromBody(body: Record<string, unknown>): ContainerUpdate {
  for (const [k, v] of Object.entries(body)) {
    if (UPDATE_FIELDS.has(k) || v === null || v === undefined || v === 0 || v === '' || v === false) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    throw badRequest(`${k} is not supported by tbuild's update (got ${JSON.stringify(v).slice(0, 60)})`);
  }
  const int = (k: string, min = 0): number | undefined => {
    const v = body[k];
    if (v === undefined || v === null || v === 0) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw badRequest(`${k} must be an integer${min < 0 ? '' : ' >= 0'}`);
    return v;
  };
  const resources: NonNullable<ContainerUpdate['resources']> = {};
  const memory = int('Memory');
  if (memory) resources.memory = memory;
  const swap = int('MemorySwap', -1);
  if (swap) resources.memorySwap = swap;
  const nano = int('NanoCpus');
  const quota = int('CpuQuota', -1);
  if (nano && quota) throw badRequest('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  if (nano && int('CpuPeriod')) throw badRequest('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (nano) {
    resources.cpuPeriod = 100_000;
    resources.cpuQuota = Math.round((nano / 1e9) * 100_000);
  }
  if (quota) resources.cpuQuota = quota;
  const period = int('CpuPeriod');
  if (period) resources.cpuPeriod = period;
  const shares = int('CpuShares');
  if (shares) resources.cpuShares = shares;
  const pids = int('PidsLimit', -1);
  if (pids) resources.pidsLimit = pids;
  const out: ContainerUpdate = Object.keys(resources).length ? { resources } : {};
  const rp = body.RestartPolicy as { Name?: unknown; MaximumRetryCount?: unknown } | undefined | null;
  if (rp && typeof rp === 'object' && typeof rp.Name === 'string' && rp.Name !== '') {
    if (!['no', 'on-failure', 'always', 'unless-stopped'].includes(rp.Name)) throw badRequest(`invalid restart policy: ${rp.Name}`);
    out.restartPolicy = { name: rp.Name as 'no' | 'on-failure' | 'always' | 'unless-stopped' };
    if (typeof rp.MaximumRetryCount === 'number' && rp.MaximumRetryCount > 0) {
      if (rp.Name !== 'on-failure') throw badRequest(`invalid restart policy: maximum retry count can only be used with 'on-failure'`);
      out.restartPolicy.maximumRetryCount = rp.MaximumRetryCount;
    }
  }
  return out;
}

async function oneShot(containers: ContainerManager, id: string, previous: boolean): Promise<{ pre?: StatsSample; now: StatsSample }> {
  if (!previous) return { now: await containers.stats(id) };
  const pre = await containers.stats(id);
  if (pre.read.startsWith('0001-')) return { now: pre };
  await new Promise((r) => setTimeout(r, PRE_SAMPLE_MS));
  return { pre, now: await containers.stats(id) };
}

export function registerContainerResourceRoutes(router: Router, svc: DaemonServices): void {
  const containers = svc.engine.containers;

  router.add('GET', '/containers/{id}/stats', async (ctx) => {
    const c = await containers.inspect(ctx.params.id!);
    const stream = boolParam(ctx.query, 'stream', true);
    const oneShotOnly = boolParam(ctx.query, 'one-shot');
    if (oneShotOnly && stream) throw badRequest('cannot have stream=true and one-shot=true');
    if (!stream) {
      const { pre, now } = await oneShot(containers, c.id, !oneShotOnly);
      sendJson(ctx.res, 200, withPrevious(c.name, c.id, now, pre));
      return;
    }
    ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
    let gone = false;
    ctx.res.once('close', () => (gone = true));
    let pre: StatsSample | undefined;
    while (!gone) {
      const now = await containers.stats(c.id).catch(() => undefined);
      if (!now) break; // removed
      ctx.res.write(JSON.stringify(withPrevious(c.name, c.id, now, pre)) + '\n');
      pre = now;
      await new Promise((r) => setTimeout(r, STREAM_INTERVAL_MS));
    }
    ctx.res.end();
  });

  router.add('POST', '/containers/{id}/update', async (ctx) => {
    const changes = updateFromBody(await readJson(ctx.req));
    await containers.update(ctx.params.id!, changes);
    sendJson(ctx.res, 200, { Warnings: [] });
  });
}
