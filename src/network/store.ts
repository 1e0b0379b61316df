import { randomBytes } from 'node:crypto';
import { readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { TbuildError } from '../errors.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { ipToInt, intToIp, parseCidr } from './ipam.js';
import type { NetworkRecord } from './types.js';

/** Network definitions, one JSON file each under `<root>/network/networks/`. */
export class NetworkStore {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
  }

  async list(): Promise<NetworkRecord[]> {
    const out: NetworkRecord[] = [];
    for (const f of await readdir(this.#dir).catch(() => [] as string[])) {
      if (!f.endsWith('.json')) continue;
      const text = await readFile(join(this.#dir, f), 'utf8').catch(() => undefined);
      if (text) out.push(JSON.parse(text) as NetworkRecord);
    }
    return out.sort((a, b) => a.created.localeCompare(b.created) || a.name.localeCompare(b.name));
  }

  /** By exact name, exact id, or unique id prefix (as Docker resolves network references). */
  async find(ref: string): Promise<NetworkRecord | undefined> {
    const all = await this.list();
    const exact = all.find((n) => n.name === ref || n.id === ref);
    if (exact) return exact;
    const byPrefix = ref.length >= 1 ? all.filter((n) => n.id.startsWith(ref)) : [];
    if (byPrefix.length > 1) throw new TbuildError('TB_INVALID_ARGUMENT', `network ${ref} is ambiguous (${byPrefix.length} matches found based on ID prefix)`);
    return byPrefix[0];
  }

  async must(ref: string): Promise<NetworkRecord> {
    const n = await this.find(ref);
    if (!n) throw new TbuildError('TB_NETWORK_NOT_FOUND', `network ${ref} not found`);
    return n;
  }

  async write(n: NetworkRecord): Promise<void> {
    await writeJsonAtomic(join(this.#dir, `${n.id}.json`), n);
  }

  async remove(id: string): Promise<void> {
    await unlink(join(this.#dir, `${id}.json`)).catch(() => {});
  }
}

export function newNetworkId(): string {
  return randomBytes(32).toString('hex');
}

/** The first usable address of a subnet: Docker's and podman's default gateway. */
export function firstHost(subnet: string): string {
  return intToIp(parseCidr(subnet).base + 1);
}

export function checkGateway(subnet: string, gateway: string): void {
  const c = parseCidr(subnet);
  const g = ipToInt(gateway);
  if (g <= c.base || g >= c.base + c.size - 1) {
    throw new TbuildError('TB_INVALID_ARGUMENT', `invalid gateway ${gateway}: not a usable address of subnet ${subnet}`);
  }
}

/** Docker's rule for network names. */
export function checkNetworkName(name: string): void {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) {
    throw new TbuildError('TB_INVALID_ARGUMENT', `invalid network name ${JSON.stringify(name)}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
}
