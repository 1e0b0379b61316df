import type { Router } from '../router.js';
import { checkFilters, parseFilters, sendJson } from '../http.js';
import { TbuildError } from '../../errors.js';
import { digestHex, sha256 } from '../../util/digest.js';

/** The networks a container can join here: no user-defined networks, just these modes. */
const NETWORKS = [
  { name: 'host', driver: 'host' },
  { name: 'none', driver: 'null' },
];

function shape(n: { name: string; driver: string }): Record<string, unknown> {
  return {
    Name: n.name,
    Id: digestHex(sha256(`tbuild-network-${n.name}`)),
    Created: '0001-01-01T00:00:00Z',
    Scope: 'local',
    Driver: n.driver,
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: null, Config: [] },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: {},
    Options: {},
    Labels: {},
  };
}

/**
 * Read-only network endpoints, so `docker network ls` and `docker system prune` (which prunes
 * networks and build cache) work. Nothing here creates or deletes anything.
 */
export function registerNetworkRoutes(router: Router): void {
  router.add('GET', '/networks', async (ctx) => {
    const filters = parseFilters(ctx.query);
    checkFilters(filters, ['name', 'id', 'driver', 'type', 'label', 'scope', 'dangling']);
    const names = filters.get('name');
    sendJson(ctx.res, 200, NETWORKS.filter((n) => !names?.length || names.some((x) => n.name.includes(x))).map(shape));
  });
  router.add('GET', '/networks/{id}', async (ctx) => {
    const id = ctx.params.id!;
    const n = NETWORKS.map(shape).find((x) => x.Name === id || String(x.Id).startsWith(id));
    if (!n) throw new TbuildError('TB_API_NOT_FOUND', `network ${id} not found`);
    sendJson(ctx.res, 200, n);
  });
  router.add('POST', '/networks/prune', async (ctx) => {
    sendJson(ctx.res, 200, { NetworksDeleted: null });
  });
}
