import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { TbuildError } from '../errors.js';
import type { PortMapping } from './types.js';

/**
 * Published ports: Docker's `-p` syntax, and probing the host so a taken port fails at start
 * with Docker's message instead of a DNAT rule that silently steals or loses traffic.
 */

function portNumber(text: string, spec: string, allowZero = false): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 65535 || (n === 0 && !allowZero)) {
    throw new TbuildError('TB_INVALID_ARGUMENT', `invalid port ${JSON.stringify(text)} in publish spec ${JSON.stringify(spec)}`);
  }
  return n;
}

function portRange(text: string, spec: string): [number, number] {
  const [a, b] = text.split('-');
  const lo = portNumber(a!, spec);
  const hi = b === undefined ? lo : portNumber(b, spec);
  if (hi < lo) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid port range ${text} in publish spec ${JSON.stringify(spec)}`);
  return [lo, hi];
}

/** `[IP:][HOSTPORT[-END]:]CONTAINERPORT[-END][/tcp|udp]` → mappings (host port 0 = pick a free one). */
export function parsePublish(spec: string): PortMapping[] {
  let rest = spec;
  let protocol: 'tcp' | 'udp' = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const p = rest.slice(slash + 1).toLowerCase();
    if (p !== 'tcp' && p !== 'udp') {
      throw new TbuildError('TB_INVALID_ARGUMENT', `invalid proto ${JSON.stringify(p)} in publish spec ${JSON.stringify(spec)}${p === 'sctp' ? ' (sctp is not supported)' : ''}`);
    }
    protocol = p;
    rest = rest.slice(0, slash);
  }
  let hostIp = '';
  // an IPv6 host address comes in brackets; tbuild's networks are IPv4 only
  if (rest.startsWith('[')) throw new TbuildError('TB_NOT_IMPLEMENTED', `IPv6 host address in publish spec ${JSON.stringify(spec)} is not supported`);
  const parts = rest.split(':');
  if (parts.length > 3) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid publish spec ${JSON.stringify(spec)}`);
  if (parts.length === 3) hostIp = parts.shift()!;
  if (hostIp && !/^\d+\.\d+\.\d+\.\d+$/.test(hostIp)) {
    throw new TbuildError('TB_INVALID_ARGUMENT', `invalid IP address ${JSON.stringify(hostIp)} in publish spec ${JSON.stringify(spec)}`);
  }
  if (hostIp === '0.0.0.0') hostIp = '';
  const [c0, c1] = portRange(parts.at(-1)!, spec);
  const hostText = parts.length === 2 ? parts[0]! : '';
  if (!hostText) return [{ hostIp, hostPort: 0, containerPort: c0, protocol, range: c1 - c0 + 1 }];
  const [h0, h1] = portRange(hostText, spec);
  if (h1 - h0 !== c1 - c0) {
    // Docker allows a host range with one container port (any one free port of the range); keep it simple and say so
    throw new TbuildError('TB_INVALID_ARGUMENT', `invalid ranges in publish spec ${JSON.stringify(spec)}: host and container ranges differ in size`);
  }
  return [{ hostIp, hostPort: h0, containerPort: c0, protocol, range: c1 - c0 + 1 }];
}

/** `80`, `80/udp`, `8000-8002/tcp` (an image's EXPOSE key) → a mapping to free host ports. */
export function exposedToMapping(key: string): PortMapping {
  const [ports, proto = 'tcp'] = key.split('/');
  if (proto !== 'tcp' && proto !== 'udp') throw new TbuildError('TB_NOT_IMPLEMENTED', `publishing ${proto} ports is not supported (${key})`);
  const [lo, hi] = portRange(ports!, key);
  return { hostIp: '', hostPort: 0, containerPort: lo, protocol: proto, range: hi - lo + 1 };
}

/** Bind `port` on `ip` for a moment: resolves with the port bound (port 0 = the kernel's choice), or throws TB_PORT_IN_USE. */
export function probePort(ip: string, port: number, protocol: 'tcp' | 'udp'): Promise<number> {
  const host = ip || '0.0.0.0';
  const inUse = (err: Error) =>
    new TbuildError('TB_PORT_IN_USE', `Bind for ${host}:${port} failed: port is already allocated`, { cause: err, details: { port, protocol } });
  return new Promise((resolve, reject) => {
    if (protocol === 'udp') {
      const s = createSocket('udp4');
      s.once('error', (e) => {
        s.close();
        reject(inUse(e));
      });
      s.bind(port, host, () => {
        const got = s.address().port;
        s.close(() => resolve(got));
      });
      return;
    }
    const srv = createServer();
    srv.once('error', (e) => reject(inUse(e)));
    srv.listen({ port, host, exclusive: true }, () => {
      const got = (srv.address() as { port: number }).port;
      srv.close(() => resolve(got));
    });
  });
}

/** Docker's `docker port` line: `80/tcp -> 0.0.0.0:8080`. */
export function formatPort(p: PortMapping, i = 0): string {
  return `${p.containerPort + i}/${p.protocol} -> ${p.hostIp || '0.0.0.0'}:${p.hostPort + i}`;
}

/** `--add-host NAME:IP` (IP may be `host-gateway`), as Docker validates it. */
export function checkAddHost(spec: string): string {
  const i = spec.indexOf(':');
  const name = spec.slice(0, i);
  const ip = spec.slice(i + 1);
  if (i <= 0 || !ip || !(ip === 'host-gateway' || /^\d+\.\d+\.\d+\.\d+$/.test(ip) || ip.includes(':'))) {
    throw new TbuildError('TB_INVALID_ARGUMENT', `invalid argument "${spec}" for "--add-host" flag: invalid IP address in add-host: "${ip}"`);
  }
  return `${name}:${ip}`;
}

const invalid = (msg: string) => new TbuildError('TB_INVALID_ARGUMENT', msg);

/** `{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}` → mappings (an empty HostPort means a free one). */
export function parsePortBindings(v: unknown): PortMapping[] {
  if (v === undefined || v === null) return [];
  if (typeof v !== 'object' || Array.isArray(v)) throw invalid('HostConfig.PortBindings must be an object');
  const out: PortMapping[] = [];
  for (const [key, bindings] of Object.entries(v as Record<string, unknown>)) {
    const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/.exec(key);
    if (!m) throw invalid(`invalid port specification: "${key}"`);
    if (m[3] === 'sctp') throw invalid(`publishing sctp ports is not supported (${key})`);
    const containerPort = Number(m[1]);
    const range = m[2] ? Number(m[2]) - containerPort + 1 : 1;
    const protocol = (m[3] ?? 'tcp') as 'tcp' | 'udp';
    const list = bindings === null ? [{}] : bindings;
    if (!Array.isArray(list)) throw invalid(`HostConfig.PortBindings[${key}] must be an array`);
    for (const b of list.length ? list : [{}]) {
      const hostIp = String((b as Record<string, unknown>).HostIp ?? '');
      const hostPortText = String((b as Record<string, unknown>).HostPort ?? '');
      if (hostIp && !/^\d+\.\d+\.\d+\.\d+$/.test(hostIp)) throw invalid(`invalid host IP ${JSON.stringify(hostIp)} for port ${key} (IPv4 only)`);
      const hm = /^(\d*)(?:-(\d+))?$/.exec(hostPortText);
      if (!hm) throw invalid(`invalid host port ${JSON.stringify(hostPortText)} for port ${key}`);
      // Docker picks one free port of a host range wider than the container's: tbuild binds the
      // ports as given, so such a range is refused rather than narrowed to its first port
      if (hm[2] && Number(hm[2]) - Number(hm[1] || 0) + 1 !== range) {
        throw invalid(`host port range ${hostPortText} for container port ${key}: a host range must be as wide as the container's (tbuild does not pick a free port from a range)`);
      }
      out.push({ hostIp: hostIp === '0.0.0.0' ? '' : hostIp, hostPort: hm[1] ? Number(hm[1]) : 0, containerPort, protocol, range });
    }
  }
  return out;
}

