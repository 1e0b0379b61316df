/**
 * Reads Docker's `daemon.json` keys that tbuild carries out. A key tbuild does not know, or
 * knows from Docker but does not carry out, is an error naming it: a setting that is silently
 * dropped would leave a machine configured differently from what its file says.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { TbuildError } from '../errors.js';
import type { DaemonConfig } from './types.js';

export const DEFAULT_CONFIG_FILE = '/etc/tbuild/daemon.json';

/** Docker keys that exist there but have no meaning (or no implementation) in tbuild. */
const DOCKER_ONLY = new Set([
  'runtimes',
  'default-runtime',
  'storage-driver',
  'storage-opts',
  'exec-opts',
  'log-driver',
  'log-opts',
  'live-restore',
  'userns-remap',
  'max-concurrent-downloads',
  'max-concurrent-uploads',
  'ipv6',
  'fixed-cidr',
  'fixed-cidr-v6',
  'iptables',
  'ip-forward',
  'mtu',
  'containerd',
  'cgroup-parent',
  'default-ulimits',
  'authorization-plugins',
  'experimental',
  'metrics-addr',
]);

/** Docker settings given the value tbuild always works with: accepted, since that is what happens. */
const AS_TBUILD_DOES: Record<string, unknown> = {
  'storage-driver': 'overlay2',
  'default-runtime': 'runc',
  'log-driver': 'json-file',
  'live-restore': false,
  ipv6: false,
  iptables: true,
  'ip-forward': true,
  experimental: false,
};

const KNOWN = new Set([
  'data-root',
  'hosts',
  'tls',
  'tlsverify',
  'tlscacert',
  'tlscert',
  'tlskey',
  'insecure-registries',
  'registry-mirrors',
  'default-address-pools',
  'bip',
  'bridge',
  'dns',
  'dns-search',
  'dns-opts',
  'seccomp-profile',
  'builder',
  'features',
  'debug',
]);

function bad(file: string, key: string, want: string): TbuildError {
  return new TbuildError('TB_CONFIG_INVALID', `${file}: "${key}" ${want}`);
}

function strings(file: string, key: string, v: unknown): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw bad(file, key, 'must be a list of strings');
  return v as string[];
}

function str(file: string, key: string, v: unknown): string {
  if (typeof v !== 'string' || !v) throw bad(file, key, 'must be a non-empty string');
  return v;
}

function bool(file: string, key: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw bad(file, key, 'must be true or false');
  return v;
}

/** `20GB`, `512MB`, `1.5GiB` or a number of bytes, as BuildKit's GC policy takes them. */
export function parseBytes(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
  if (typeof v !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?)b?\s*$/i.exec(v);
  if (!m) return undefined;
  const power = ' kmgtp'.indexOf(m[2]!.toLowerCase() || ' ');
  return Math.round(Number(m[1]) * (m[3] ? 1024 : 1000) ** power);
}

function builderGc(file: string, v: unknown): DaemonConfig['builderGc'] {
  if (!v || typeof v !== 'object') throw bad(file, 'builder', 'must be an object');
  for (const k of Object.keys(v)) if (k !== 'gc') throw bad(file, `builder.${k}`, 'is not supported by tbuild');
  const gc = (v as { gc?: unknown }).gc;
  if (gc === undefined) return undefined;
  if (!gc || typeof gc !== 'object') throw bad(file, 'builder.gc', 'must be an object');
  const o = gc as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (k !== 'enabled' && k !== 'defaultKeepStorage') {
      throw bad(file, `builder.gc.${k}`, 'is not supported by tbuild (enabled and defaultKeepStorage are)');
    }
  }
  const enabled = o.enabled === undefined ? true : bool(file, 'builder.gc.enabled', o.enabled);
  if (o.defaultKeepStorage === undefined) return { enabled };
  const keepStorage = parseBytes(o.defaultKeepStorage);
  if (keepStorage === undefined) throw bad(file, 'builder.gc.defaultKeepStorage', 'must be a size such as "20GB"');
  return { enabled, keepStorage };
}

function addressPool(file: string, v: unknown): string {
  if (!Array.isArray(v) || v.length !== 1) throw bad(file, 'default-address-pools', 'must hold exactly one pool (tbuild allocates from one)');
  const p = v[0] as { base?: unknown; size?: unknown };
  const base = str(file, 'default-address-pools[0].base', p?.base);
  if (!/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(base)) throw bad(file, 'default-address-pools[0].base', 'must be an IPv4 CIDR such as 10.233.0.0/16');
  if (p.size !== undefined && p.size !== 24) throw bad(file, 'default-address-pools[0].size', 'must be 24 (tbuild gives every network a /24)');
  return base;
}

export function parseDaemonConfig(text: string, file: string): DaemonConfig {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new TbuildError('TB_CONFIG_INVALID', `${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new TbuildError('TB_CONFIG_INVALID', `${file} must hold a JSON object`);
  const o = doc as Record<string, unknown>;
  const cfg: DaemonConfig = { file };
  // every key tbuild would not carry out is named at once, not one per attempt
  const dockerOnly = Object.keys(o).filter((k) => DOCKER_ONLY.has(k) && !(k in AS_TBUILD_DOES && o[k] === AS_TBUILD_DOES[k]));
  const unknown = Object.keys(o).filter((k) => !DOCKER_ONLY.has(k) && !KNOWN.has(k));
  if (dockerOnly.length || unknown.length) {
    const parts = [
      ...(unknown.length ? [`${unknown.map((k) => `"${k}"`).join(', ')} ${unknown.length > 1 ? 'are not known settings' : 'is not a known setting'}`] : []),
      ...(dockerOnly.length ? [`${dockerOnly.map((k) => `"${k}"`).join(', ')} ${dockerOnly.length > 1 ? 'are Docker daemon settings' : 'is a Docker daemon setting'} that tbuild does not carry out`] : []),
    ];
    throw new TbuildError('TB_CONFIG_INVALID', `${file}: ${parts.join('; ')}`, { details: { keys: [...unknown, ...dockerOnly] } });
  }
  for (const [key, v] of Object.entries(o)) {
    if (DOCKER_ONLY.has(key)) continue; // set to what tbuild does anyway
    switch (key) {
      case 'data-root':
        cfg.dataRoot = str(file, key, v);
        break;
      case 'hosts':
        cfg.hosts = strings(file, key, v);
        break;
      case 'tls':
        cfg.tls = bool(file, key, v);
        break;
      case 'tlsverify':
        cfg.tlsverify = bool(file, key, v);
        break;
      case 'tlscacert':
        cfg.tlscacert = str(file, key, v);
        break;
      case 'tlscert':
        cfg.tlscert = str(file, key, v);
        break;
      case 'tlskey':
        cfg.tlskey = str(file, key, v);
        break;
      case 'insecure-registries':
        cfg.insecureRegistries = strings(file, key, v);
        break;
      case 'registry-mirrors':
        cfg.registryMirrors = strings(file, key, v);
        break;
      case 'dns': {
        const servers = strings(file, key, v);
        for (const ip of servers) if (!isIP(ip)) throw bad(file, key, `holds "${ip}", which is not an IP address`);
        cfg.dns = { ...cfg.dns, servers };
        break;
      }
      case 'dns-search':
        cfg.dns = { ...cfg.dns, search: strings(file, key, v) };
        break;
      case 'dns-opts':
        cfg.dns = { ...cfg.dns, options: strings(file, key, v) };
        break;
      case 'default-address-pools':
        cfg.addressPool = addressPool(file, v);
        break;
      case 'bip': {
        const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(str(file, key, v));
        const prefix = Number(m?.[5]);
        if (!m || m.slice(1, 5).some((x) => Number(x) > 255) || prefix < 8 || prefix > 30) {
          throw bad(file, key, 'must be an address with a prefix from /8 to /30, such as 10.232.0.1/16');
        }
        // Docker's bip names the gateway; the network is that address with the host bits cleared.
        const addr = m.slice(1, 5).reduce((a, x) => a * 256 + Number(x), 0);
        const net = addr - (addr % 2 ** (32 - prefix));
        cfg.bridgeSubnet = `${[24, 16, 8, 0].map((sh) => Math.floor(net / 2 ** sh) % 256).join('.')}/${prefix}`;
        break;
      }
      case 'bridge':
        cfg.bridge = str(file, key, v);
        break;
      case 'seccomp-profile':
        cfg.seccompProfile = str(file, key, v);
        break;
      case 'builder': {
        const gc = builderGc(file, v);
        if (gc) cfg.builderGc = gc;
        break;
      }
      case 'features': {
        if (!v || typeof v !== 'object') throw bad(file, key, 'must be an object');
        for (const [f, on] of Object.entries(v)) {
          // BuildKit is the only builder tbuild has; saying so is fine, asking for another is not.
          if (f === 'buildkit' && on === true) continue;
          throw bad(file, `features.${f}`, 'is not supported by tbuild');
        }
        break;
      }
      case 'debug':
        bool(file, key, v);
        if (v) throw bad(file, key, 'is not supported by tbuild (use the global --debug flag)');
        break;
    }
  }
  return cfg;
}

/**
 * The settings file: `explicit` (a flag), else `$TBUILD_CONFIG`, else /etc/tbuild/daemon.json
 * when it exists. A file named explicitly must exist.
 */
export function loadDaemonConfig(explicit: string | undefined, env: NodeJS.ProcessEnv): DaemonConfig | undefined {
  const named = explicit || env.TBUILD_CONFIG || undefined;
  const file = named ?? DEFAULT_CONFIG_FILE;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (!named && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TbuildError('TB_CONFIG_INVALID', `cannot read settings file ${file}: ${(err as Error).message}`);
  }
  return parseDaemonConfig(text, file);
}
