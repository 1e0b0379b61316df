import { mkdir, readdir, readFile, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createFileExclusive } from '../util/atomic.js';
import { TbuildError } from '../errors.js';

/**
 * Address leases. netavark plumbs whatever address it is given (podman does its own IPAM), so
 * tbuild hands out addresses: one file per leased address under `<dir>/<network id>/<ip>`,
 * created with O_EXCL. Creating the file *is* taking the lease, so concurrent processes never
 * get the same address and no lock is needed; the file names the attachment that holds it, and
 * `reconcile` frees leases whose attachment is gone.
 */

export function ipToInt(ip: string): number {
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) {
    throw new TbuildError('TB_INVALID_ARGUMENT', `invalid IPv4 address ${JSON.stringify(ip)}`);
  }
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export interface Cidr {
  base: number;
  prefix: number;
  /** Number of addresses in the subnet. */
  size: number;
}

export function parseCidr(cidr: string): Cidr {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(cidr);
  const prefix = m ? Number(m[2]) : NaN;
  if (!m || prefix < 8 || prefix > 30) {
    throw new TbuildError('TB_INVALID_ARGUMENT', `invalid subnet ${JSON.stringify(cidr)} (an IPv4 CIDR from /8 to /30)`);
  }
  const size = 2 ** (32 - prefix);
  const base = ipToInt(m[1]!);
  if (base % size !== 0) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid subnet ${cidr}: host bits are set`);
  return { base, prefix, size };
}

export function inSubnet(ip: string, c: Cidr): boolean {
  const n = ipToInt(ip);
  return n > c.base && n < c.base + c.size - 1;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + b.size && b.base < a.base + a.size;
}

export class Leases {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
  }

  /**
   * Lease `want` (or the first free address after the gateway) in `subnet` for `holder`.
   * Throws TB_NETWORK_EXHAUSTED when the subnet is full, TB_INVALID_ARGUMENT for a taken `want`.
   */
  async take(networkId: string, subnet: string, gateway: string, holder: string, want?: string): Promise<string> {
    const c = parseCidr(subnet);
    const dir = join(this.#dir, networkId);
    await mkdir(dir, { recursive: true });
    if (want) {
      if (!inSubnet(want, c) || want === gateway) {
        throw new TbuildError('TB_INVALID_ARGUMENT', `address ${want} is not a usable address of subnet ${subnet}`);
      }
      if (!(await this.#create(dir, want, holder))) throw new TbuildError('TB_INVALID_ARGUMENT', `address ${want} is already in use`);
      return want;
    }
    const taken = new Set(await readdir(dir));
    // a linear scan from the bottom: subnets are small and leases few, and it keeps addresses stable
    const gw = ipToInt(gateway);
    for (let n = c.base + 1; n < c.base + c.size - 1; n++) {
      if (n === gw) continue;
      const ip = intToIp(n);
      if (taken.has(ip)) continue;
      if (await this.#create(dir, ip, holder)) return ip;
    }
    throw new TbuildError('TB_NETWORK_EXHAUSTED', `no free address left in subnet ${subnet}`);
  }

  /** Take an arbitrary named lease (`ports`/`tcp-8080`); false when someone holds it. */
  async claim(group: string, key: string, holder: string): Promise<boolean> {
    const dir = join(this.#dir, group);
    await mkdir(dir, { recursive: true });
    return this.#create(dir, key, holder);
  }

  async free(networkId: string, ip: string): Promise<void> {
    await unlink(join(this.#dir, networkId, ip)).catch(() => {});
  }

  /** Remove empty per-network directories (a network's leases all freed). */
  async prune(): Promise<void> {
    for (const networkId of await readdir(this.#dir).catch(() => [] as string[])) {
      await rmdir(join(this.#dir, networkId)).catch(() => {}); // ENOTEMPTY: in use
    }
  }

  /** Every lease: network id, address and holder. */
  async all(): Promise<Array<{ networkId: string; ip: string; holder: string }>> {
    const out: Array<{ networkId: string; ip: string; holder: string }> = [];
    for (const networkId of await readdir(this.#dir).catch(() => [] as string[])) {
      for (const ip of await readdir(join(this.#dir, networkId)).catch(() => [] as string[])) {
        if (ip.startsWith('.')) continue;
        const holder = await readFile(join(this.#dir, networkId, ip), 'utf8').catch(() => undefined);
        if (holder !== undefined) out.push({ networkId, ip, holder: holder.trim() });
      }
    }
    return out;
  }

  /** Write the holder to a temp file, then link(2) it into place: the lease appears complete or not at all. */
  async #create(dir: string, ip: string, holder: string): Promise<boolean> {
    // `prune` may have removed the (empty) directory since `take` made it
    await mkdir(dir, { recursive: true });
    return createFileExclusive(join(dir, ip), holder + '\n');
  }
}
