import { isIP } from 'node:net';
import { TbuildError } from '../../errors.js';

export type DaemonAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

export const DEFAULT_SOCKET = '/run/tbuild.sock';

/** `unix:///run/tbuild.sock`, `/run/x.sock`, `tcp://127.0.0.1:2375`, `tcp://:2376` → an address. */
export function parseAddress(spec: string): DaemonAddress {
  if (spec.startsWith('unix://')) {
    const path = spec.slice('unix://'.length);
    if (!path.startsWith('/')) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid unix socket address ${spec}: path must be absolute`);
    return { kind: 'unix', path };
  }
  if (spec.startsWith('/')) return { kind: 'unix', path: spec };
  const m = /^(?:tcp|http|https):\/\/(\[[^\]]+\]|[^:/]*)(?::(\d+))?\/?$/.exec(spec);
  if (!m) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid daemon address ${spec} (use unix:///path or tcp://host:port)`);
  const host = (m[1] || '127.0.0.1').replace(/^\[|\]$/g, '');
  const port = m[2] ? Number(m[2]) : 2375;
  if (port < 0 || port > 65535) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid port in ${spec}`);
  return { kind: 'tcp', host, port };
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host.startsWith('::ffff:127.');
  return false;
}

export function formatAddress(a: DaemonAddress): string {
  return a.kind === 'unix' ? `unix://${a.path}` : `tcp://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}
