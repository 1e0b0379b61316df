import { checkFilterNames, matchLabels, PRUNE_FILTERS, untilTime, type Filters } from '../util/filters.js';
import { execFile, spawn } from 'node:child_process';
import { moduleEntry } from '../util/module-entry.js';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { TbuildError } from '../errors.js';
import { digestHex, sha256 } from '../util/digest.js';
import { Netavark } from './netavark.js';
import { Leases, overlaps, parseCidr, intToIp } from './ipam.js';
import { checkGateway, checkNetworkName, firstHost, NetworkStore, newNetworkId } from './store.js';
import {
  connectRecord,
  disconnectRecord,
  handOver,
  releaseOwned,
  listRecords,
  readRecord,
  reconcileAttachments,
  releaseRecord,
  setupAttachment,
  type Layout,
} from './attachments.js';
import type { AttachRequest, Attachment, AttachmentInfo, CreateNetworkOptions, EndpointRequest, NetworkManager, NetworkRecord } from './types.js';

export interface NetworkSettings {
  /** State root; everything goes under `<root>/network/`. */
  root: string;
  /** Bridge interface of the default network (default `tbuild0`). */
  bridge?: string;
  /** Subnet of the default network (default 10.232.0.0/16). */
  subnet?: string;
  /** Where user networks without `--subnet` get a /24 (default 10.233.0.0/16). */
  userPool?: string;
  /** Idle namespaces on the default network kept per process for RUN steps (default 2). */
  poolSize?: number;
  /**
   * Address leases, machine-wide because state roots may share a bridge (default
   * /run/tbuild/leases: on tmpfs, like the namespaces and veths they describe).
   */
  leaseDir?: string;
  /** `close()` hands idle namespaces to a detached helper (a short-lived process: see EngineOptions.shortLived). */
  detachTeardown?: boolean;
}

export const DEFAULT_BRIDGE = 'tbuild0';
export const DEFAULT_SUBNET = '10.232.0.0/16';
export const DEFAULT_USER_POOL = '10.233.0.0/16';
const DEFAULT_NAME = 'bridge';
const DEFAULT_LEASE_DIR = '/run/tbuild/leases';

/** Open the networks of a state root, making the default network from `settings` on first use. */
export async function openNetworkManager(settings: NetworkSettings): Promise<NetavarkNetworks> {
  const m = new NetavarkNetworks(settings);
  await m.init();
  return m;
}

export class NetavarkNetworks implements NetworkManager {
  readonly defaultNetwork = DEFAULT_NAME;
  readonly #settings: NetworkSettings;
  readonly #dir: string;
  readonly #store: NetworkStore;
  #layout: Layout | undefined;
  /** Ready namespaces on the default network, owned by this process, for the next RUN step. */
  readonly #idle: AttachmentInfo[] = [];
  /** A namespace being made ahead of the first RUN step that needs one (`prewarm`). */
  #warming: Promise<AttachmentInfo | undefined> | undefined;

  constructor(settings: NetworkSettings) {
    this.#settings = settings;
    this.#dir = join(settings.root, 'network');
    this.#store = new NetworkStore(join(this.#dir, 'networks'));
  }

  async init(): Promise<void> {
    await mkdir(join(this.#dir, 'networks'), { recursive: true });
    const existing = (await this.#store.list()).find((n) => n.builtin);
    // unset settings keep what the root has (a shim opens the root without any)
    const bridge = this.#settings.bridge ?? existing?.bridge ?? DEFAULT_BRIDGE;
    const subnet = this.#settings.subnet ?? existing?.subnet ?? DEFAULT_SUBNET;
    if (existing && existing.bridge === bridge && existing.subnet === subnet) return;
    if (existing && (await this.users(existing.id)).length) return; // settings apply once it is idle
    checkBridgeName(bridge);
    if (existing) await this.#store.remove(existing.id);
    await this.#store.write({
      // Roots that share a bridge must give netavark the same network id: its firewall chains are
      // named after the id and removed only with the bridge, by whichever root detaches last.
      id: digestHex(sha256(`tbuild-default-network:${bridge}:${subnet}`)),
      name: DEFAULT_NAME,
      driver: 'bridge',
      bridge,
      subnet,
      gateway: firstHost(subnet),
      internal: false,
      dnsEnabled: false,
      labels: {},
      created: existing?.created ?? new Date().toISOString(),
      builtin: true,
    });
  }

  get #l(): Layout {
    return (this.#layout ??= {
      records: join(this.#dir, 'attachments'),
      netns: join(this.#dir, 'netns'),
      leases: new Leases(this.#settings.leaseDir ?? DEFAULT_LEASE_DIR),
      netavark: new Netavark(join(this.#dir, 'aardvark')),
    });
  }

  async attach(req: AttachRequest): Promise<Attachment> {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(req.id)) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid attachment id ${JSON.stringify(req.id)}`);
    if (!req.networks.length) throw new TbuildError('TB_INVALID_ARGUMENT', 'attach needs at least one network');
    const networks = [];
    for (const e of req.networks) networks.push({ net: await this.#store.must(e.network), aliases: e.aliases ?? [], ...(e.ip ? { ip: e.ip } : {}) });
    const info = await setupAttachment(this.#l, {
      id: req.id,
      name: req.name,
      ownerPid: req.ownerPid ?? process.pid,
      networks,
      ports: req.ports ?? [],
    });
    return this.#handle(info);
  }

  /**
   * A namespace on the default network for one RUN step: an idle one from this process' pool
   * when there is one (a RUN step cannot reconfigure it: it has no CAP_NET_ADMIN), else a new one.
   */
  async acquireDefault(): Promise<Attachment> {
    let info = this.#idle.pop();
    if (!info && this.#warming) {
      const warming = this.#warming;
      this.#warming = undefined;
      info = await warming;
    }
    info ??= await this.#setupDefault();
    let released = false;
    return {
      ...info,
      release: async () => {
        if (released) return;
        released = true;
        if (this.#idle.length < (this.#settings.poolSize ?? 2)) this.#idle.push(info);
        else await this.#release(info.id);
      },
    };
  }

  /**
   * Keep the default bridge, and netavark's firewall chains for it, in place while this process
   * lives (a daemon): netavark makes both at the first attachment and removes both with the
   * last, which otherwise doubles the set-up and teardown of every lone container. One
   * namespace with one address holds them, as Docker's docker0 stays; its record names this
   * process, so a crash leaves it to the next start's reconcile like any other.
   */
  async holdDefaultBridge(): Promise<() => Promise<void>> {
    const a = await this.attach({ id: `hold-${process.pid}-${randomBytes(3).toString('hex')}`, name: 'tbuild-bridge-hold', networks: [{ network: DEFAULT_NAME }] });
    return () => a.release();
  }

  /**
   * Start making one namespace for the RUN steps to come (a build calls this once it knows it
   * has any), so netavark's set-up overlaps the base image's resolution and the first snapshot.
   */
  prewarm(): void {
    if (this.#idle.length || this.#warming) return;
    const warming = this.#setupDefault().catch(() => undefined);
    this.#warming = warming;
    void warming.then((info) => {
      if (this.#warming !== warming) return; // taken by acquireDefault or close
      this.#warming = undefined;
      if (info) this.#idle.push(info);
    });
  }

  #setupDefault = async (): Promise<AttachmentInfo> =>
    setupAttachment(this.#l, {
      id: `run-${process.pid}-${randomBytes(6).toString('hex')}`,
      name: 'buildkitsandbox',
      ownerPid: process.pid,
      networks: [{ net: await this.#store.must(DEFAULT_NAME), aliases: [] }],
      ports: [],
    });

  #handle(info: AttachmentInfo): Attachment {
    let done: Promise<void> | undefined;
    return { ...info, release: () => (done ??= this.#release(info.id)) };
  }

  async #release(id: string): Promise<void> {
    const rec = await readRecord(this.#l, id);
    if (rec) await releaseRecord(this.#l, rec);
  }

  async connect(id: string, name: string, e: EndpointRequest): Promise<AttachmentInfo> {
    const net = await this.#store.must(e.network);
    return connectRecord(this.#l, id, { net, aliases: e.aliases ?? [], ...(e.ip ? { ip: e.ip } : {}) }, name);
  }

  async disconnect(id: string, network: string): Promise<void> {
    await disconnectRecord(this.#l, id, await this.#store.must(network));
  }

  async status(id: string): Promise<AttachmentInfo | undefined> {
    const rec = await readRecord(this.#l, id);
    if (!rec?.ready || !rec.netnsPath) return undefined;
    const { owner: _o, leases: _l, options: _p, ready: _r, ...info } = rec;
    return info as AttachmentInfo;
  }

  async reconcile(): Promise<string[]> {
    return reconcileAttachments(this.#l);
  }

  async close(opts: { detach?: boolean } = {}): Promise<void> {
    if (this.#warming) {
      const warming = this.#warming;
      this.#warming = undefined;
      const info = await warming;
      if (info) this.#idle.push(info);
    }
    const idle = this.#idle.splice(0);
    if (!idle.length) return;
    if ((opts.detach ?? this.#settings.detachTeardown) && (await this.#releaseDetached(idle.map((i) => i.id)))) return;
    await Promise.allSettled(idle.map((i) => this.#release(i.id)));
  }

  /** Release attachments a `close({ detach: true })` handed to this process. */
  async releaseHandedOver(ids: string[]): Promise<void> {
    await Promise.allSettled(ids.map((id) => releaseOwned(this.#l, id)));
  }

  /**
   * Hand `ids` to a detached helper that tears them down after this process has moved on. The
   * records name the helper before it is told the ids, so at every instant exactly one live
   * process (or, after a crash, the next start's reconcile) is responsible. False when the
   * helper could not be started: the caller releases them itself.
   */
  async #releaseDetached(ids: string[]): Promise<boolean> {
    const { args, cwd } = moduleEntry(import.meta.url, 'network', 'release-helper');
    const child = spawn(process.execPath, [...args, this.#settings.root, this.#settings.leaseDir ?? DEFAULT_LEASE_DIR], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
      cwd,
    });
    const started = await new Promise<boolean>((resolve) => {
      child.once('spawn', () => resolve(true));
      child.once('error', () => resolve(false));
    });
    if (!started || !child.pid) return false;
    child.stdin!.on('error', () => {});
    try {
      for (const id of ids) await handOver(this.#l, id, child.pid);
    } catch {
      child.stdin!.end();
      // whatever was handed over is released by the helper; the rest is still ours
      return false;
    }
    child.stdin!.end(JSON.stringify(ids));
    child.unref();
    return true;
  }

  // ───────────── networks ─────────────

  async create(opts: CreateNetworkOptions): Promise<NetworkRecord> {
    checkNetworkName(opts.name);
    if (['bridge', 'host', 'none', 'default'].includes(opts.name) || (await this.#store.find(opts.name))?.name === opts.name) {
      throw new TbuildError('TB_NETWORK_EXISTS', `network with name ${opts.name} already exists`);
    }
    const all = await this.#store.list();
    const subnet = opts.subnet ?? (await this.#freeSubnet(all));
    const c = parseCidr(subnet);
    const clash = all.find((n) => overlaps(parseCidr(n.subnet), c));
    if (clash) throw new TbuildError('TB_NETWORK_EXISTS', `invalid pool request: Pool overlaps with other one on this address space (network ${clash.name}, ${clash.subnet})`);
    const gateway = opts.gateway ?? firstHost(subnet);
    checkGateway(subnet, gateway);
    const id = newNetworkId();
    const rec: NetworkRecord = {
      id,
      name: opts.name,
      driver: 'bridge',
      bridge: `tbuild${id.slice(0, 9)}`,
      subnet,
      gateway,
      internal: Boolean(opts.internal),
      dnsEnabled: true,
      labels: opts.labels ?? {},
      created: new Date().toISOString(),
    };
    await this.#store.write(rec);
    return rec;
  }

  /** The first /24 of the user pool that overlaps no network of this root and no host route. */
  async #freeSubnet(all: NetworkRecord[]): Promise<string> {
    const pool = parseCidr(this.#settings.userPool ?? DEFAULT_USER_POOL);
    const routes = await hostRoutes();
    for (let base = pool.base; base < pool.base + pool.size; base += 256) {
      const c = { base, prefix: 24, size: 256 };
      if (all.some((n) => overlaps(parseCidr(n.subnet), c)) || routes.some((r) => overlaps(r, c))) continue;
      return `${intToIp(base)}/24`;
    }
    throw new TbuildError('TB_NETWORK_EXHAUSTED', 'could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
  }

  list(): Promise<NetworkRecord[]> {
    return this.#store.list();
  }

  inspect(ref: string): Promise<NetworkRecord> {
    return this.#store.must(ref);
  }

  async users(ref: string): Promise<string[]> {
    const n = await this.#store.must(ref);
    const recs = await listRecords(this.#l);
    return recs.filter((r) => r.leases.some((x) => x.networkId === n.id)).map((r) => r.id);
  }

  async remove(ref: string): Promise<void> {
    const n = await this.#store.must(ref);
    if (n.builtin) throw new TbuildError('TB_NETWORK_IN_USE', `${n.name} is a pre-defined network and cannot be removed`);
    const users = await this.users(n.id);
    if (users.length) throw new TbuildError('TB_NETWORK_IN_USE', `error while removing network: network ${n.name} id ${n.id} has active endpoints`);
    await this.#store.remove(n.id);
  }

  async prune(filters: Filters = new Map()): Promise<string[]> {
    checkFilterNames(filters, PRUNE_FILTERS);
    const until = untilTime(filters);
    const out: string[] = [];
    for (const n of await this.#store.list()) {
      if (n.builtin || (until !== undefined && Date.parse(n.created) >= until) || !matchLabels(filters, n.labels)) continue;
      if ((await this.users(n.id)).length) continue;
      await this.#store.remove(n.id);
      out.push(n.name);
    }
    return out;
  }
}

function checkBridgeName(name: string): void {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name)) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid bridge name ${JSON.stringify(name)} (at most 15 characters)`);
}

/** IPv4 routes of the host (`ip -j route`), so a new subnet does not shadow one in use. */
function hostRoutes(): Promise<Array<{ base: number; prefix: number; size: number }>> {
  return new Promise((resolve) => {
    execFile('ip', ['-j', '-4', 'route'], (err, out) => {
      if (err) return resolve([]);
      const routes = (JSON.parse(out) as Array<{ dst: string }>)
        .map((r) => r.dst)
        .filter((d) => /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(d) && !d.endsWith('/0'))
        .flatMap((d) => {
          try {
            return [parseCidr(d)];
          } catch {
            return [];
          }
        });
      resolve(routes);
    });
  });
}
