import { anyValue, checkFilterNames, matchLabels, type Filters } from '../util/filters.js';
import { TbuildError } from '../errors.js';
import { digestHex, sha256 } from '../util/digest.js';
import type { ContainerManager, ContainerRecord } from '../containers/types.js';
import type { NetworkManager, NetworkRecord } from '../network/types.js';
import type { NetworkApi } from './types.js';

type Json = Record<string, unknown>;

/** `host` and `none` are modes, not networks here, but Docker always lists them. */
const PSEUDO = [
  { name: 'host', driver: 'host' },
  { name: 'none', driver: 'null' },
] as const;

function pseudoShape(p: (typeof PSEUDO)[number]): Json {
  return baseShape(p.name, digestHex(sha256(`tbuild-network-${p.name}`)), p.driver, '0001-01-01T00:00:00Z', [], false, {}, {});
}

function baseShape(name: string, id: string, driver: string, created: string, config: Json[], internal: boolean, labels: Json, containers: Json): Json {
  return {
    Name: name,
    Id: id,
    Created: created,
    Scope: 'local',
    Driver: driver,
    EnableIPv4: true,
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: {}, Config: config },
    Internal: internal,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: containers,
    Options: {},
    Labels: labels,
  };
}

/** Docker's network JSON for one of ours, with the running containers attached to it. */
export function networkShape(n: NetworkRecord, containers: ContainerRecord[]): Json {
  const attached: Json = {};
  for (const c of containers) {
    const e = c.network?.endpoints.find((x) => x.networkId === n.id);
    if (!e) continue;
    attached[c.id] = {
      Name: c.name,
      EndpointID: digestHex(sha256(`${c.id}/${n.id}`)),
      MacAddress: e.macAddress,
      IPv4Address: `${e.ipAddress}/${e.prefixLen}`,
      IPv6Address: '',
    };
  }
  const shape = baseShape(n.name, n.id, 'bridge', n.created, [{ Subnet: n.subnet, Gateway: n.gateway }], n.internal, n.labels, attached);
  shape.Options = n.builtin ? { 'com.docker.network.bridge.name': n.bridge, 'com.docker.network.bridge.default_bridge': 'true' } : { 'com.docker.network.bridge.name': n.bridge };
  return shape;
}

/** The local engine's networks, in Docker's shapes. */
export class LocalNetworks implements NetworkApi {
  readonly #net: NetworkManager;
  readonly #containers: ContainerManager;

  constructor(net: NetworkManager, containers: ContainerManager) {
    this.#net = net;
    this.#containers = containers;
  }

  async list(): Promise<Json[]> {
    const running = await this.#containers.list();
    return [...(await this.#net.list()).map((n) => networkShape(n, running)), ...PSEUDO.map(pseudoShape)];
  }

  async inspect(ref: string): Promise<Json> {
    const p = PSEUDO.find((x) => x.name === ref);
    if (p) return pseudoShape(p);
    const n = await this.#net.inspect(ref);
    return networkShape(n, await this.#containers.list());
  }

  async create(opts: Parameters<NetworkApi['create']>[0]): Promise<{ Id: string; Warning: string }> {
    const n = await this.#net.create(opts);
    return { Id: n.id, Warning: '' };
  }

  async remove(ref: string): Promise<void> {
    if (PSEUDO.some((x) => x.name === ref)) throw new TbuildError('TB_NETWORK_IN_USE', `${ref} is a pre-defined network and cannot be removed`);
    await this.#net.remove(ref);
  }

  prune(filters?: Filters): Promise<string[]> {
    return this.#net.prune(filters);
  }
}

/** An engine without a network manager still shows Docker's `host` and `none`. */
export class PseudoNetworks implements NetworkApi {
  async list(): Promise<Json[]> {
    return PSEUDO.map(pseudoShape);
  }

  async inspect(ref: string): Promise<Json> {
    const p = PSEUDO.find((x) => x.name === ref || digestHex(sha256(`tbuild-network-${x.name}`)).startsWith(ref));
    if (!p) throw new TbuildError('TB_NETWORK_NOT_FOUND', `network ${ref} not found`);
    return pseudoShape(p);
  }

  async create(): Promise<{ Id: string; Warning: string }> {
    throw new TbuildError('TB_NETWORK_BACKEND_MISSING', 'this engine has no network manager');
  }

  async remove(ref: string): Promise<void> {
    await this.inspect(ref);
    throw new TbuildError('TB_NETWORK_IN_USE', `${ref} is a pre-defined network and cannot be removed`);
  }

  async prune(filters?: Filters): Promise<string[]> {
    checkFilterNames(filters ?? new Map(), ['until', 'label', 'label!']);
    return [];
  }
}

/** The filters of `docker network ls` (`GET /networks`). */
export const NETWORK_LIST_FILTERS = ['name', 'id', 'driver', 'type', 'label', 'label!', 'scope', 'dangling'] as const;

/**
 * The networks `docker network ls --filter` shows (Docker's `GET /networks` entries), one
 * implementation for the daemon and the CLI.
 */
export function selectNetworks(list: Array<Record<string, unknown>>, filters: Filters): Array<Record<string, unknown>> {
  if (!filters.size) return list;
  checkFilterNames(filters, NETWORK_LIST_FILTERS);
  for (const t of filters.get('type') ?? []) if (t !== 'custom' && t !== 'builtin') throw new TbuildError('TB_INVALID_ARGUMENT', `invalid filter 'type=${t}' (custom or builtin)`);
  for (const d of filters.get('dangling') ?? []) if (!['true', 'false', '1', '0'].includes(d)) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid filter 'dangling=${d}'`);
  const builtin = (n: Record<string, unknown>) => ['bridge', 'host', 'none'].includes(String(n.Name));
  return list.filter(
    (n) =>
      anyValue(filters, 'name', (x) => String(n.Name).includes(x)) &&
      anyValue(filters, 'id', (x) => String(n.Id).startsWith(x)) &&
      anyValue(filters, 'driver', (x) => String(n.Driver) === x) &&
      anyValue(filters, 'type', (x) => (x === 'builtin') === builtin(n)) &&
      anyValue(filters, 'scope', (x) => String(n.Scope ?? 'local') === x) &&
      // dangling: no container on it (the predefined networks never are)
      anyValue(filters, 'dangling', (x) => !builtin(n) && Object.keys((n.Containers ?? {}) as object).length === 0 === (x === 'true' || x === '1')) &&
      matchLabels(filters, n.Labels as Record<string, string> | undefined),
  );
}
