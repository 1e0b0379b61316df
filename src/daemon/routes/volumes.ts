import type { Router } from '../router.js';
import type { DaemonServices, DaemonVolumes } from '../types.js';
import type { EventBus } from '../events.js';
import { badRequest, boolParam, checkFilters, parseFilters, readJson, sendJson, sendStatus } from '../http.js';
import { selectVolumes } from '../../volumes/filters.js';

export function registerVolumeRoutes(router: Router, svc: DaemonServices, events: EventBus): void {
  const volumes = (): DaemonVolumes => {
    if (!svc.volumes) throw Object.assign(new Error('volumes are not supported by this daemon yet'), { statusCode: 501 });
    return svc.volumes;
  };

  router.add('GET', '/volumes', async (ctx) => {
    const list = await selectVolumes(await volumes().list(), parseFilters(ctx.query), (v) => ({ name: v.Name, labels: v.Labels, driver: v.Driver }), (name) => volumes().inUse(name));
    sendJson(ctx.res, 200, { Volumes: list, Warnings: [] });
  });

  router.add('POST', '/volumes/create', async (ctx) => {
    const body = await readJson(ctx.req);
    const name = typeof body.Name === 'string' && body.Name ? body.Name : undefined;
    if (name && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name)) {
      throw badRequest(`"${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed`);
    }
    const driver = body.Driver;
    if (driver !== undefined && driver !== '' && driver !== 'local') throw badRequest(`volume driver ${String(driver)} is not supported`);
    // `docker volume create -o type=…,device=…` mounts a device or tmpfs: tbuild's local volumes are plain directories
    const driverOpts = body.DriverOpts && typeof body.DriverOpts === 'object' ? Object.keys(body.DriverOpts) : [];
    if (driverOpts.length) throw badRequest(`volume driver options are not supported: ${driverOpts.join(', ')}`);
    if (body.ClusterVolumeSpec) throw badRequest('ClusterVolumeSpec (swarm cluster volumes) is not supported');
    const labels = (body.Labels && typeof body.Labels === 'object' ? body.Labels : {}) as Record<string, string>;
    const { info, created } = await volumes().create(name, labels);
    if (created) events.publish('volume', 'create', info.Name, { driver: 'local' });
    sendJson(ctx.res, 201, info);
  });

  router.add('POST', '/volumes/prune', async (ctx) => {
    const filters = parseFilters(ctx.query);
    checkFilters(filters, ['all', 'label', 'label!']);
    // API ≥ 1.42 prunes anonymous volumes only, unless `all=true` (docker volume prune -a).
    const all = (filters.get('all') ?? []).some((v) => v === 'true' || v === '1');
    const labels = [...(filters.get('label') ?? []), ...(filters.get('label!') ?? []).map((l) => `!${l}`)];
    const { deleted, spaceReclaimed } = await volumes().prune({ all, labels });
    for (const name of deleted) events.publish('volume', 'destroy', name, { driver: 'local' });
    sendJson(ctx.res, 200, { VolumesDeleted: deleted.length ? deleted : null, SpaceReclaimed: spaceReclaimed });
  });

  router.add('GET', '/volumes/{name}', async (ctx) => {
    sendJson(ctx.res, 200, await volumes().inspect(ctx.params.name!));
  });

  router.add('DELETE', '/volumes/{name}', async (ctx) => {
    const name = ctx.params.name!;
    await volumes().remove(name, boolParam(ctx.query, 'force'));
    events.publish('volume', 'destroy', name, { driver: 'local' });
    sendStatus(ctx.res, 204);
  });
}
