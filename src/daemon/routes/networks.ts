import type { Router } from '../router.js';
import type { DaemonServices } from '../types.js';
import type { EventBus } from '../events.js';
import type { NetworkApi } from '../../api/types.js';
import { badRequest, parseFilters, readJson, sendJson, sendStatus } from '../http.js';
import { PseudoNetworks, selectNetworks } from '../../api/networks.js';
import { TbuildError } from '../../errors.js';

type Json = Record<string, unknown>;

/** Create-body fields carried out; anything else set to a non-default value is a 400 naming it. */
const CREATE_FIELDS = new Set(['Name', 'Driver', 'Internal', 'Labels', 'IPAM', 'CheckDuplicate', 'Attachable', 'EnableIPv6', 'EnableIPv4', 'Options', 'Ingress', 'ConfigOnly', 'Scope']);

function createOptions(body: Json): Parameters<NetworkApi['create']>[0] {
  for (const [k, v] of Object.entries(body)) {
    if (!CREATE_FIELDS.has(k) && v !== undefined && v !== null && v !== false && v !== '') throw badRequest(`network create: ${k} is not supported`);
  }
  if (typeof body.Name !== 'string' || !body.Name) throw badRequest('network name is required');
  if (body.Driver && body.Driver !== 'bridge') throw badRequest(`network driver ${String(body.Driver)} is not supported (only bridge)`);
  if (body.EnableIPv6 === true) throw badRequest('IPv6 networks are not supported');
  if (body.Attachable === true || body.Ingress === true || body.ConfigOnly === true) throw badRequest('swarm network options are not supported');
  if (body.EnableIPv4 === false) throw badRequest('EnableIPv4=false (a network without IPv4) is not supported');
  if (body.Scope && body.Scope !== 'local') throw badRequest(`network scope ${String(body.Scope)} is not supported (only local)`);
  if (body.Options && Object.keys(body.Options as Json).length) throw badRequest(`network driver options are not supported: ${Object.keys(body.Options as Json).join(', ')}`);
  const ipam = (body.IPAM ?? {}) as Json;
  if (ipam.Driver && ipam.Driver !== 'default') throw badRequest(`IPAM driver ${String(ipam.Driver)} is not supported`);
  if (ipam.Options && Object.keys(ipam.Options as Json).length) throw badRequest(`IPAM options are not supported: ${Object.keys(ipam.Options as Json).join(', ')}`);
  const configs = (ipam.Config ?? []) as Json[];
  if (configs.length > 1) throw badRequest('one IPAM config (subnet) per network is supported');
  const c = configs[0] ?? {};
  if (c.IPRange || (c.AuxiliaryAddresses && Object.keys(c.AuxiliaryAddresses as Json).length)) throw badRequest('IPAM IPRange and AuxiliaryAddresses are not supported');
  return {
    name: body.Name,
    ...(typeof c.Subnet === 'string' && c.Subnet ? { subnet: c.Subnet } : {}),
    ...(typeof c.Gateway === 'string' && c.Gateway ? { gateway: c.Gateway } : {}),
    ...(body.Internal === true ? { internal: true } : {}),
    ...(body.Labels ? { labels: Object.fromEntries(Object.entries(body.Labels as Json).map(([k, v]) => [k, String(v)])) } : {}),
  };
}

/** `/networks`: list, inspect, create, remove, prune, connect, disconnect, in Docker's shapes. */
export function registerNetworkRoutes(router: Router, svc: DaemonServices, events: EventBus): void {
  const pseudo = new PseudoNetworks();
  const networks = (): NetworkApi => svc.engine.networks ?? pseudo;

  router.add('GET', '/networks', async (ctx) => {
    const list = selectNetworks(await networks().list(), parseFilters(ctx.query));
    sendJson(ctx.res, 200, list);
  });

  router.add('GET', '/networks/{id}', async (ctx) => {
    const n = await networks().inspect(ctx.params.id!);
    // every network here is local: one asked for in another scope is not found, as in Docker
    const scope = ctx.query.get('scope');
    if (scope && scope !== String(n.Scope ?? 'local')) throw new TbuildError('TB_NETWORK_NOT_FOUND', `network ${ctx.params.id!} not found`);
    sendJson(ctx.res, 200, n);
  });

  router.add('POST', '/networks/create', async (ctx) => {
    const r = await networks().create(createOptions(await readJson(ctx.req)));
    const n = await networks().inspect(r.Id);
    events.publish('network', 'create', r.Id, { name: String(n.Name), type: 'bridge' });
    sendJson(ctx.res, 201, r);
  });

  router.add('DELETE', '/networks/{id}', async (ctx) => {
    const n = await networks().inspect(ctx.params.id!);
    await networks().remove(String(n.Id));
    events.publish('network', 'destroy', String(n.Id), { name: String(n.Name), type: String(n.Driver) });
    sendStatus(ctx.res, 204);
  });

  router.add('POST', '/networks/prune', async (ctx) => {
    const deleted = await networks().prune(parseFilters(ctx.query));
    for (const name of deleted) events.publish('network', 'destroy', name, { name, type: 'bridge' });
    sendJson(ctx.res, 200, { NetworksDeleted: deleted.length ? deleted : null });
  });

  for (const action of ['connect', 'disconnect'] as const) {
    router.add('POST', `/networks/{id}/${action}`, async (ctx) => {
      const body = await readJson(ctx.req);
      if (typeof body.Container !== 'string' || !body.Container) throw badRequest('Container is required');
      const n = await networks().inspect(ctx.params.id!);
      const c = await svc.engine.containers.inspect(body.Container);
      if (action === 'connect') {
        const ec = (body.EndpointConfig ?? {}) as Json;
        const ipam = (ec.IPAMConfig ?? {}) as Json;
        const aliases = Array.isArray(ec.Aliases) ? (ec.Aliases as string[]) : [];
        if (Array.isArray(ec.Links) && ec.Links.length) throw badRequest('EndpointConfig.Links (--link) is not supported');
        for (const [field, set] of [
          ['IPAMConfig.IPv6Address (--ip6)', typeof ipam.IPv6Address === 'string' && ipam.IPv6Address !== ''],
          ['IPAMConfig.LinkLocalIPs (--link-local-ip)', Array.isArray(ipam.LinkLocalIPs) && ipam.LinkLocalIPs.length > 0],
          ['MacAddress', typeof ec.MacAddress === 'string' && ec.MacAddress !== ''],
          ['DriverOpts (--driver-opt)', ec.DriverOpts && typeof ec.DriverOpts === 'object' && Object.keys(ec.DriverOpts).length > 0],
        ] as const) {
          if (set) throw badRequest(`EndpointConfig.${field} is not supported`);
        }
        await svc.engine.containers.connectNetwork(c.id, String(n.Id), {
          ...(aliases.length ? { aliases } : {}),
          ...(typeof ipam.IPv4Address === 'string' && ipam.IPv4Address ? { ip: ipam.IPv4Address } : {}),
        });
      } else {
        await svc.engine.containers.disconnectNetwork(c.id, String(n.Id));
      }
      events.publish('network', action, String(n.Id), { container: c.id, name: String(n.Name), type: 'bridge' });
      sendStatus(ctx.res, 200);
    });
  }
}
