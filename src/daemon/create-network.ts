import type { CreateContainerOptions } from '../containers/types.js';
import { parsePortBindings } from '../network/ports.js';
import { badRequest } from './http.js';

type Json = Record<string, unknown>;

/** HostConfig fields `networkFromBody` carries out. */
export const NETWORK_HOST_CONFIG = ['NetworkMode', 'PortBindings', 'PublishAllPorts', 'ExtraHosts', 'Dns', 'DnsSearch', 'DnsOptions'];

function strings(v: unknown, field: string): string[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw badRequest(`${field} must be an array of strings`);
}

/**
 * The container-create body's networking: HostConfig's NetworkMode, PortBindings, PublishAllPorts,
 * ExtraHosts, Dns*, and NetworkingConfig.EndpointsConfig (one network: aliases, IPv4 address).
 */
export function networkFromBody(body: Json, hc: Json, opts: CreateContainerOptions): void {
  const mode = typeof hc.NetworkMode === 'string' && hc.NetworkMode ? hc.NetworkMode : 'default';
  opts.network = mode;
  const ports = parsePortBindings(hc.PortBindings);
  if (ports.length) opts.ports = ports;
  if (hc.PublishAllPorts === true) opts.publishAll = true;
  const extraHosts = strings(hc.ExtraHosts, 'HostConfig.ExtraHosts');
  if (extraHosts.length) opts.extraHosts = extraHosts;
  const dns = strings(hc.Dns, 'HostConfig.Dns');
  if (dns.length) opts.dns = dns;
  const search = strings(hc.DnsSearch, 'HostConfig.DnsSearch');
  if (search.length) opts.dnsSearch = search;
  const options = strings(hc.DnsOptions, 'HostConfig.DnsOptions');
  if (options.length) opts.dnsOptions = options;
  if (Array.isArray(hc.Links) && hc.Links.length) throw badRequest('HostConfig.Links (--link) is not supported: use a user network, where containers resolve each other by name');
  const nc = body.NetworkingConfig as Json | undefined;
  const endpoints = (nc?.EndpointsConfig ?? {}) as Record<string, Json | null>;
  const names = Object.keys(endpoints);
  if (names.length > 1) throw badRequest('a container can be created on one network; connect the others after create');
  for (const name of names) {
    if (mode !== 'default' && name !== mode) throw badRequest(`NetworkingConfig names network ${name} but NetworkMode is ${mode}`);
    if (mode === 'default') opts.network = name;
    const e = endpoints[name] ?? {};
    const aliases = strings(e.Aliases, `EndpointsConfig.${name}.Aliases`);
    if (aliases.length) opts.networkAliases = aliases;
    const ipam = (e.IPAMConfig ?? {}) as Json;
    if (typeof ipam.IPv4Address === 'string' && ipam.IPv4Address) opts.ip = ipam.IPv4Address;
    if (typeof ipam.IPv6Address === 'string' && ipam.IPv6Address) throw badRequest('IPv6 addresses are not supported');
    for (const f of ['Links', 'MacAddress', 'DriverOpts']) {
      const v = e[f];
      if (v !== undefined && v !== null && v !== '' && !(Array.isArray(v) && !v.length) && !(typeof v === 'object' && !Object.keys(v as object).length)) {
        throw badRequest(`EndpointsConfig.${name}.${f} is not supported`);
      }
    }
  }
}
