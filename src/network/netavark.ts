import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { TbuildError } from '../errors.js';
import type { NetworkRecord, PortMapping } from './types.js';

/**
 * netavark's JSON interface (podman's network stack, Debian package `netavark`):
 * `netavark --config DIR setup NETNS < options` plumbs the namespace, `teardown` with the same
 * options undoes it (and removes the bridge and its firewall chains with the last container).
 * The shapes follow netavark 1.4's src/network/types.rs.
 */

export const NETAVARK_CANDIDATES = ['/usr/lib/podman/netavark', '/usr/libexec/podman/netavark'];
export const AARDVARK_CANDIDATES = ['/usr/lib/podman/aardvark-dns', '/usr/libexec/podman/aardvark-dns'];
/**
 * netavark 1.4 takes no lock around its iptables changes, and the tables are the machine's, so
 * every tbuild process (whatever its state root) serializes on one lock file. `flock -o` keeps
 * the lock's descriptor from netavark, whose aardvark-dns would otherwise hold it for its life.
 */
export const MACHINE_LOCK = '/run/tbuild-netavark.lock';

export interface NetavarkBinaries {
  netavark: string;
  aardvark: string;
}

/** Find the binaries, or fail naming the packages that provide them. */
export function findBinaries(): NetavarkBinaries {
  const netavark = NETAVARK_CANDIDATES.find((p) => existsSync(p));
  const aardvark = AARDVARK_CANDIDATES.find((p) => existsSync(p));
  const missing = [!netavark && 'netavark', !aardvark && 'aardvark-dns'].filter(Boolean);
  if (missing.length) {
    throw new TbuildError(
      'TB_NETWORK_BACKEND_MISSING',
      `container networking needs the Debian package${missing.length > 1 ? 's' : ''} ${missing.join(' and ')} (apt-get install netavark aardvark-dns)`,
    );
  }
  return { netavark: netavark!, aardvark: aardvark! };
}

/** One container's options: netavark's `NetworkOptions`. */
export interface NetavarkOptions {
  container_id: string;
  container_name: string;
  networks: Record<string, { interface_name: string; static_ips: string[]; aliases?: string[] }>;
  network_info: Record<string, NetavarkNetwork>;
  port_mappings?: Array<{ host_ip: string; container_port: number; host_port: number; range: number; protocol: string }>;
}

interface NetavarkNetwork {
  name: string;
  id: string;
  driver: string;
  network_interface: string;
  subnets: Array<{ subnet: string; gateway: string }>;
  ipv6_enabled: boolean;
  internal: boolean;
  dns_enabled: boolean;
  ipam_options: { driver: string };
  options: Record<string, string>;
}

/** netavark's `StatusBlock` per network. */
export type NetavarkStatus = Record<
  string,
  { dns_server_ips?: string[]; interfaces?: Record<string, { mac_address: string; subnets?: Array<{ ipnet: string; gateway?: string }> }> }
>;

/**
 * netavark names a network's firewall chains after a hash of its *name*, machine-wide: so the
 * name it is given is the bridge's (unique on the machine, `tbuild`-prefixed), not the user's.
 */
export function netavarkNetwork(n: NetworkRecord): NetavarkNetwork {
  return {
    name: n.bridge,
    id: n.id,
    driver: 'bridge',
    network_interface: n.bridge,
    subnets: [{ subnet: n.subnet, gateway: n.gateway }],
    ipv6_enabled: false,
    internal: n.internal,
    dns_enabled: n.dnsEnabled,
    ipam_options: { driver: 'host-local' },
    // Docker's bridge networks cannot reach each other
    options: { isolate: 'true' },
  };
}

export function netavarkPorts(ports: PortMapping[]): NetavarkOptions['port_mappings'] {
  return ports.map((p) => ({ host_ip: p.hostIp, container_port: p.containerPort, host_port: p.hostPort, range: p.range, protocol: p.protocol }));
}

export class Netavark {
  #bins: NetavarkBinaries | undefined;
  readonly #configDir: string;

  /** `configDir` holds aardvark-dns' per-network files and pid (netavark's `--config`). */
  constructor(configDir: string) {
    this.#configDir = configDir;
  }

  async setup(netns: string, opts: NetavarkOptions): Promise<NetavarkStatus> {
    const out = await this.#run('setup', netns, opts);
    try {
      return JSON.parse(out) as NetavarkStatus;
    } catch {
      throw new TbuildError('TB_NETWORK_FAILED', `netavark setup printed no status: ${out.slice(0, 200)}`);
    }
  }

  async teardown(netns: string, opts: NetavarkOptions): Promise<void> {
    await this.#run('teardown', netns, opts);
  }

  #run(cmd: 'setup' | 'teardown', netns: string, opts: NetavarkOptions): Promise<string> {
    let bins: NetavarkBinaries;
    try {
      // looked for on first use, so commands that never network do not need the packages
      bins = this.#bins ??= findBinaries();
    } catch (err) {
      return Promise.reject(err);
    }
    mkdirSync(this.#configDir, { recursive: true });
    const args = ['-o', MACHINE_LOCK, bins.netavark, '--config', this.#configDir, '--aardvark-binary', bins.aardvark, cmd, netns];
    return new Promise((resolve, reject) => {
      // aardvark-dns is started by netavark and outlives it: keep it out of our stdio so a
      // caller waiting on our output (a test, a shell pipe) is not held open by it.
      const child = spawn('flock', args, { stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => err.push(d));
      child.on('error', (e) => reject(new TbuildError('TB_NETWORK_FAILED', `cannot run netavark: ${e.message}`, { cause: e })));
      child.on('close', (code) => {
        if (code === 0) return resolve(Buffer.concat(out).toString());
        const text = Buffer.concat(err).toString().trim() || Buffer.concat(out).toString().trim();
        reject(new TbuildError('TB_NETWORK_FAILED', `netavark ${cmd} failed: ${backendMessage(text) || `exit ${code}`}`));
      });
      child.stdin.on('error', () => {});
      child.stdin.end(JSON.stringify(opts));
    });
  }
}

/** netavark reports errors as `{"error": "..."}` on stdout or plain text on stderr. */
function backendMessage(text: string): string {
  try {
    const j = JSON.parse(text) as { error?: string };
    if (j.error) return j.error;
  } catch {
    // plain text
  }
  return text;
}
