import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { TbuildError, isTbuildError } from '../errors.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { processStart } from '../util/process.js';
import { createNetns, isMounted, removeNetns } from './netns.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Leases } from './ipam.js';
import { Netavark, netavarkNetwork, netavarkPorts, type NetavarkOptions, type NetavarkStatus } from './netavark.js';
import { probePort } from './ports.js';
import type { AttachmentInfo, Endpoint, NetworkRecord, PortMapping } from './types.js';

const run = promisify(execFile);

/**
 * One attachment's life on disk, in an order that lets `reconcile` finish any half-done step:
 * the record (with its owner) is written before any lease or namespace exists and removed only
 * after they are gone, so a lease or namespace without a record is garbage, and a record whose
 * owner is dead names everything to release, including the exact options netavark set up with.
 */
export interface AttachmentRecord extends Partial<AttachmentInfo> {
  id: string;
  /** `pid starttime` of the owning process. */
  owner: string;
  leases: Array<{ networkId: string; ip: string }>;
  /** Present once netavark may have been called: teardown takes the same options. */
  options?: NetavarkOptions;
  ready?: boolean;
}

export interface Layout {
  records: string;
  netns: string;
  leases: Leases;
  netavark: Netavark;
}

/** The lease group of published host ports. */
const PORT_LEASES = 'ports';

export const ownerOf = (pid: number): string => `${pid} ${processStart(pid)}`;

export function ownerAlive(owner: string): boolean {
  const [pid, start] = owner.split(' ');
  return Boolean(pid) && processStart(Number(pid)) === start;
}

export async function readRecord(l: Layout, id: string): Promise<AttachmentRecord | undefined> {
  const text = await readFile(join(l.records, `${id}.json`), 'utf8').catch(() => undefined);
  return text ? (JSON.parse(text) as AttachmentRecord) : undefined;
}

export async function listRecords(l: Layout): Promise<AttachmentRecord[]> {
  const out: AttachmentRecord[] = [];
  for (const f of await readdir(l.records).catch(() => [] as string[])) {
    if (!f.endsWith('.json')) continue;
    const r = await readRecord(l, f.slice(0, -5));
    if (r) out.push(r);
  }
  return out;
}

export interface SetupRequest {
  id: string;
  name: string;
  ownerPid: number;
  networks: Array<{ net: NetworkRecord; aliases: string[]; ip?: string }>;
  ports: PortMapping[];
}

/** Leases, namespace, netavark setup; on failure everything made so far is released. */
export async function setupAttachment(l: Layout, req: SetupRequest): Promise<AttachmentInfo> {
  await mkdir(l.records, { recursive: true });
  await mkdir(l.netns, { recursive: true });
  const recPath = join(l.records, `${req.id}.json`);
  const rec: AttachmentRecord = { id: req.id, owner: ownerOf(req.ownerPid), leases: [] };
  try {
    await writeJsonAtomic(recPath, rec);
  } catch (err) {
    throw new TbuildError('TB_NETWORK_FAILED', `cannot record network attachment ${req.id}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const ips: string[] = [];
    for (const n of req.networks) {
      const ip = await l.leases.take(n.net.id, n.net.subnet, n.net.gateway, recPath, n.ip);
      rec.leases.push({ networkId: n.net.id, ip });
      ips.push(ip);
    }
    await writeJsonAtomic(recPath, rec);
    const ports = await resolvePorts(req.ports);
    // A published port is a DNAT rule, not a socket, so probing cannot see another container's:
    // each host port is leased too (machine-wide, like the addresses).
    for (const p of ports) {
      for (let i = 0; i < p.range; i++) {
        const key = `${p.protocol}-${p.hostPort + i}`;
        if (!(await l.leases.claim(PORT_LEASES, key, recPath))) {
          throw new TbuildError('TB_PORT_IN_USE', `Bind for ${p.hostIp || '0.0.0.0'}:${p.hostPort + i} failed: port is already allocated`);
        }
        rec.leases.push({ networkId: PORT_LEASES, ip: key });
      }
    }
    const options: NetavarkOptions = {
      container_id: req.id,
      container_name: req.name,
      networks: Object.fromEntries(
        req.networks.map((n, i) => [
          n.net.bridge,
          { interface_name: `eth${i}`, static_ips: [ips[i]!], ...(n.net.dnsEnabled ? { aliases: n.aliases } : {}) },
        ]),
      ),
      network_info: Object.fromEntries(req.networks.map((n) => [n.net.bridge, netavarkNetwork(n.net)])),
      ...(ports.length ? { port_mappings: netavarkPorts(ports) } : {}),
    };
    rec.options = options;
    rec.netnsPath = join(l.netns, req.id);
    await writeJsonAtomic(recPath, rec);
    await createNetns(rec.netnsPath);
    const status = await l.netavark.setup(rec.netnsPath, options);
    const info: AttachmentInfo = {
      id: req.id,
      netnsPath: rec.netnsPath,
      endpoints: req.networks.map((n, i) => endpointOf(n.net, n.aliases, ips[i]!, status, `eth${i}`)),
      ports,
      dnsServers: req.networks.filter((n) => n.net.dnsEnabled).slice(0, 1).map((n) => n.net.gateway),
      hostGateway: req.networks[0]?.net.gateway ?? '',
    };
    Object.assign(rec, info, { ready: true });
    await writeJsonAtomic(recPath, rec);
    return info;
  } catch (err) {
    await releaseRecord(l, rec).catch(() => {});
    throw isTbuildError(err) ? err : new TbuildError('TB_NETWORK_FAILED', `network setup failed: ${(err as Error).message}`, { cause: err });
  }
}

/** Host port 0 becomes a free port; a given one must be free now (on its address) or this throws TB_PORT_IN_USE. */
async function resolvePorts(ports: PortMapping[]): Promise<PortMapping[]> {
  const out: PortMapping[] = [];
  for (const p of ports) {
    if (p.hostPort === 0 && p.range === 1) {
      out.push({ ...p, hostPort: await probePort(p.hostIp, 0, p.protocol) });
      continue;
    }
    if (p.hostPort === 0) {
      throw new TbuildError('TB_NOT_IMPLEMENTED', `publishing the port range ${p.containerPort}-${p.containerPort + p.range - 1} on random host ports is not supported; give the host range`);
    }
    for (let i = 0; i < p.range; i++) await probePort(p.hostIp, p.hostPort + i, p.protocol);
    out.push(p);
  }
  return out;
}

function endpointOf(net: NetworkRecord, aliases: string[], ip: string, status: NetavarkStatus, iface: string): Endpoint {
  const i = status[net.bridge]?.interfaces?.[iface];
  const prefix = Number(net.subnet.split('/')[1]);
  return { network: net.name, networkId: net.id, ipAddress: ip, prefixLen: prefix, gateway: net.gateway, macAddress: i?.mac_address ?? '', aliases };
}

/**
 * Release everything a record names: netavark teardown (when setup may have run), the namespace,
 * the leases, then the record. Errors of the teardown are reported after the rest is released.
 */
export async function releaseRecord(l: Layout, rec: AttachmentRecord): Promise<void> {
  let failure: unknown;
  if (rec.options && rec.netnsPath && isMounted(rec.netnsPath)) {
    await l.netavark.teardown(rec.netnsPath, rec.options).catch((e: unknown) => {
      // a half-made setup has little to tear down; only a completed one must succeed
      if (rec.ready) failure = e;
    });
  } else if (rec.options && rec.netnsPath && rec.ready) {
    // The namespace is gone (unmounted by someone else, or its mount lost), taking its end of each
    // veth with it; what is on the host side still stands: port forwards, NAT rules, a bridge with
    // nothing left on it. netavark tears those down given any namespace: an empty one of our own.
    const stand = `${rec.netnsPath}.teardown`;
    try {
      await createNetns(stand);
      // netavark deletes each container interface first and stops if one is missing: stand-ins
      // (a veth pair inside the namespace; kernels without the dummy module still have veth)
      for (const [i, n] of Object.values(rec.options.networks).entries()) {
        await run('nsenter', [`--net=${stand}`, 'ip', 'link', 'add', n.interface_name, 'type', 'veth', 'peer', 'name', `tbstand${i}`]).catch(() => {});
      }
      await l.netavark.teardown(stand, rec.options).catch(() => {});
    } finally {
      await removeNetns(stand).catch(() => {});
    }
  }
  if (rec.netnsPath) await removeNetns(rec.netnsPath).catch((e: unknown) => (failure ??= e));
  for (const x of rec.leases) await l.leases.free(x.networkId, x.ip);
  await unlink(join(l.records, `${rec.id}.json`)).catch(() => {});
  if (failure) throw failure;
}

/** Make `pid` the owner of attachment `id` (a helper that outlives the current owner releases it). */
export async function handOver(l: Layout, id: string, pid: number): Promise<void> {
  const rec = await readRecord(l, id);
  if (rec) await writeJsonAtomic(join(l.records, `${id}.json`), { ...rec, owner: ownerOf(pid) });
}

/** Release attachment `id` if this process owns it. */
export async function releaseOwned(l: Layout, id: string): Promise<void> {
  const rec = await readRecord(l, id);
  if (rec && rec.owner === ownerOf(process.pid)) await releaseRecord(l, rec);
}

/** Release attachments of dead owners, then leases and namespaces that no record names. */
export async function reconcileAttachments(l: Layout): Promise<string[]> {
  const released: string[] = [];
  for (const rec of await listRecords(l)) {
    if (ownerAlive(rec.owner)) continue;
    await releaseRecord(l, rec).catch(() => {});
    released.push(rec.id);
  }
  // Leases are machine-wide (roots may share the default bridge): each names its holder's record
  // file, written before the lease was taken and removed after it was freed, in whichever root.
  for (const lease of await l.leases.all()) {
    if (lease.holder.startsWith('/') && !existsSync(lease.holder)) await l.leases.free(lease.networkId, lease.ip);
  }
  await l.leases.prune();
  const live = new Set((await listRecords(l)).map((r) => r.id));
  for (const f of await readdir(l.netns).catch(() => [] as string[])) {
    if (!live.has(f) && !(await readRecord(l, f))) await removeNetns(join(l.netns, f)).catch(() => {});
  }
  return released;
}

/** Add one network to a live attachment (`docker network connect` on a running container). */
export async function connectRecord(l: Layout, id: string, n: { net: NetworkRecord; aliases: string[]; ip?: string }, name: string): Promise<AttachmentInfo> {
  const rec = await readRecord(l, id);
  if (!rec?.ready || !rec.options || !rec.netnsPath) throw new TbuildError('TB_NETWORK_FAILED', `container ${id} has no live network attachment`);
  if (rec.options.network_info[n.net.bridge]) throw new TbuildError('TB_NETWORK_EXISTS', `endpoint with name ${name} already exists in network ${n.net.name}`);
  const recPath = join(l.records, `${id}.json`);
  const ip = await l.leases.take(n.net.id, n.net.subnet, n.net.gateway, recPath, n.ip);
  rec.leases.push({ networkId: n.net.id, ip });
  await writeJsonAtomic(recPath, rec);
  const iface = `eth${Object.keys(rec.options.networks).length}`;
  const one: NetavarkOptions = {
    container_id: id,
    container_name: name,
    networks: { [n.net.bridge]: { interface_name: iface, static_ips: [ip], ...(n.net.dnsEnabled ? { aliases: n.aliases } : {}) } },
    network_info: { [n.net.bridge]: netavarkNetwork(n.net) },
  };
  let status: NetavarkStatus;
  try {
    status = await l.netavark.setup(rec.netnsPath, one);
  } catch (err) {
    await l.leases.free(n.net.id, ip);
    rec.leases = rec.leases.filter((x) => x.ip !== ip || x.networkId !== n.net.id);
    await writeJsonAtomic(recPath, rec);
    throw err;
  }
  rec.options.networks = { ...rec.options.networks, ...one.networks };
  rec.options.network_info = { ...rec.options.network_info, ...one.network_info };
  rec.endpoints = [...(rec.endpoints ?? []), endpointOf(n.net, n.aliases, ip, status, iface)];
  if (n.net.dnsEnabled && !rec.dnsServers?.length) rec.dnsServers = [n.net.gateway];
  await writeJsonAtomic(recPath, rec);
  const { owner: _o, leases: _l, options: _p, ready: _r, ...info } = rec;
  return info as AttachmentInfo;
}

/** Take one network out of a live attachment (`docker network disconnect`). */
export async function disconnectRecord(l: Layout, id: string, net: NetworkRecord): Promise<void> {
  const rec = await readRecord(l, id);
  if (!rec?.ready || !rec.options || !rec.netnsPath) return;
  const per = rec.options.networks[net.bridge];
  if (!per) return;
  const one: NetavarkOptions = {
    container_id: id,
    container_name: rec.options.container_name,
    networks: { [net.bridge]: per },
    network_info: { [net.bridge]: rec.options.network_info[net.bridge]! },
  };
  await l.netavark.teardown(rec.netnsPath, one);
  const recPath = join(l.records, `${id}.json`);
  delete rec.options.networks[net.bridge];
  delete rec.options.network_info[net.bridge];
  rec.endpoints = (rec.endpoints ?? []).filter((e) => e.networkId !== net.id);
  for (const x of rec.leases.filter((x) => x.networkId === net.id)) await l.leases.free(x.networkId, x.ip);
  rec.leases = rec.leases.filter((x) => x.networkId !== net.id);
  await writeJsonAtomic(recPath, rec);
}
