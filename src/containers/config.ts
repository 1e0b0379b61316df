import { parseSignal } from './signals.js';
import { hostname as osHostname } from 'node:os';
import { TbuildError } from '../errors.js';
import type { ImageRecord } from '../images/types.js';
import type { ContainerMount } from '../exec/types.js';
import type { CreateContainerOptions } from './types.js';
import type { Volumes } from '../volumes/types.js';
import type { RuntimeConfig, StoredConfig } from './store.js';
import { mkdir, stat } from 'node:fs/promises';
import type { NetworkManager } from '../network/types.js';
import { exposedToMapping } from '../network/ports.js';
import { effectiveHealth } from './health.js';

/** Merge the image's env with the create options': a later KEY replaces an earlier one in place. */
export function mergeEnv(base: string[], over: string[]): string[] {
  const out = new Map<string, string>();
  for (const e of [...base, ...over]) {
    const i = e.indexOf('=');
    const k = i < 0 ? e : e.slice(0, i);
    if (i < 0) continue; // `-e KEY` with no value and nothing to inherit
    out.set(k, e);
  }
  return [...out.values()];
}

/** Docker gives a process with a tty `TERM=xterm` unless its env names a TERM. */
export function withTerm(env: string[], tty: boolean): string[] {
  return tty && !env.some((e) => e.startsWith('TERM=')) ? [...env, 'TERM=xterm'] : env;
}

/**
 * The command Docker would run: `--entrypoint` replaces the image's (and then drops the image's
 * Cmd); a given CMD replaces the image's Cmd; an entrypoint of `[""]` means none.
 */
export function effectiveCommand(opts: CreateContainerOptions, img: ImageRecord | undefined): string[] {
  const cfg = img?.config.config ?? {};
  const epGiven = opts.entrypoint !== undefined;
  const entrypoint = (epGiven ? opts.entrypoint! : (cfg.Entrypoint ?? [])).filter((x, i, a) => !(a.length === 1 && x === ''));
  const cmd = opts.cmd && opts.cmd.length ? opts.cmd : epGiven ? [] : (cfg.Cmd ?? []);
  const full = [...entrypoint, ...cmd];
  if (!full.length) throw new TbuildError('TB_INVALID_ARGUMENT', 'no command specified');
  return full;
}

/**
 * Resolve `-v`/`--mount` specs, `--volumes-from` and the image's VOLUMEs into runtime mounts,
 * creating volumes (and, for `-v`, missing host directories as Docker does).
 */
export async function resolveMounts(
  opts: CreateContainerOptions,
  img: ImageRecord | undefined,
  volumes: Volumes,
  from: StoredConfig[] = [],
): Promise<{ mounts: ContainerMount[]; volumes: string[]; anonymous: string[]; noCopy: string[] }> {
  const mounts: ContainerMount[] = [];
  const names: string[] = [];
  const anonymous: string[] = [];
  const noCopy: string[] = [];
  const specs = [...(opts.mounts ?? [])];
  const targets = new Set(specs.map((s) => s.target));
  // Docker: a container's own mounts win over those it inherits, which win over the image's VOLUMEs
  for (const [i, src] of from.entries()) {
    const mode = (opts.volumesFrom?.[i] ?? '').split(':')[1];
    for (const m of src.runtime.mounts) {
      if (m.type !== 'bind' || targets.has(m.destination)) continue;
      const ro = mode === 'ro' || (mode !== 'rw' && m.options.includes('ro'));
      mounts.push({ ...m, options: [...m.options.filter((o) => o !== 'ro' && o !== 'rw'), ...(ro ? ['ro'] : [])] });
      targets.add(m.destination);
    }
    names.push(...src.runtime.volumes);
  }
  for (const target of Object.keys(img?.config.config.Volumes ?? {})) {
    if (!targets.has(target)) specs.push({ type: 'volume', source: '', target, readonly: false });
  }
  for (const m of specs) {
    if (!m.target.startsWith('/')) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid mount path: '${m.target}' mount path must be absolute`);
    const ro = m.readonly ? ['ro'] : [];
    if (m.type === 'tmpfs') {
      // Given options come last so `mode=`/`size=` override the defaults (the kernel takes the last).
      mounts.push({ destination: m.target, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', ...ro, ...(m.tmpfsOptions ?? [])] });
    } else if (m.type === 'bind') {
      if (!m.source.startsWith('/')) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid mount config for type "bind": bind source path must be absolute`);
      if (!(await stat(m.source).catch(() => undefined))) {
        if (!m.createSource) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid mount config for type "bind": bind source path does not exist: ${m.source}`);
        await mkdir(m.source, { recursive: true, mode: 0o755 });
      }
      mounts.push({ destination: m.target, type: 'bind', source: m.source, options: ['rbind', m.propagation ?? 'rprivate', ...ro] });
    } else {
      const { volume } = await volumes.create(m.source || undefined, m.volumeLabels ?? {}, !m.source);
      names.push(volume.name);
      if (!m.source) anonymous.push(volume.name);
      if (m.noCopy) noCopy.push(m.target);
      mounts.push({ destination: m.target, type: 'bind', source: volume.mountpoint, options: ['rbind', 'rprivate', ...ro] });
    }
  }
  return { mounts, volumes: [...new Set(names)], anonymous, noCopy };
}

export async function runtimeConfig(
  id: string,
  opts: CreateContainerOptions,
  img: ImageRecord | undefined,
  volumes: Volumes,
  networks?: NetworkManager,
  from: StoredConfig[] = [],
  defaultDns?: RuntimeConfig['dns'],
  joined?: StoredConfig,
): Promise<RuntimeConfig> {
  // a stop signal nothing could send fails the create, as Docker's does
  if (opts.stopSignal) parseSignal(opts.stopSignal);
  const net = joined ? sharedNetwork(opts, joined) : await networkConfig(id, opts, img, networks, defaultDns);
  const m = await resolveMounts(opts, img, volumes, from);
  const health = effectiveHealth(opts.healthcheck, img?.config.config.Healthcheck);
  return {
    ...net,
    hostname: joined ? joined.runtime.hostname : opts.hostname ?? (net.network === 'host' ? osHostname() : id.slice(0, 12)),
    mounts: m.mounts,
    ...(opts.resources ? { resources: opts.resources } : {}),
    tty: Boolean(opts.tty),
    openStdin: Boolean(opts.openStdin),
    stdinOnce: Boolean(opts.stdinOnce),
    volumes: m.volumes,
    anonymousVolumes: m.anonymous,
    ...(m.noCopy.length ? { noCopy: m.noCopy } : {}),
    ...(health ? { healthcheck: health } : {}),
    ...(opts.stopSignal || img?.config.config.StopSignal ? { stopSignal: opts.stopSignal ?? img!.config.config.StopSignal! } : {}),
    ...(opts.readonlyRootfs ? { readonlyRootfs: true } : {}),
    ...(opts.security ? { security: opts.security } : {}),
  };
}

/**
 * Docker's network modes: `default`/`bridge` and user networks attach at start (the network is
 * checked now, as Docker's create does); `none` and `host` attach nothing, so ports, aliases and
 * addresses make no sense there and are refused as Docker refuses them.
 */
async function networkConfig(
  id: string,
  opts: CreateContainerOptions,
  img: ImageRecord | undefined,
  networks: NetworkManager | undefined,
  defaultDns?: RuntimeConfig['dns'],
): Promise<Pick<RuntimeConfig, 'network' | 'attach' | 'dns' | 'extraHosts'>> {
  const mode = !opts.network || opts.network === 'default' ? 'bridge' : opts.network;
  const ports = [...(opts.ports ?? [])];
  if (opts.publishAll) {
    for (const key of [...Object.keys(img?.config.config.ExposedPorts ?? {}), ...(opts.exposedPorts ?? [])]) {
      const p = exposedToMapping(key);
      if (!ports.some((x) => x.containerPort === p.containerPort && x.protocol === p.protocol)) ports.push(p);
    }
  }
  const dns = {
    ...(opts.dns?.length ? { servers: opts.dns } : {}),
    ...(opts.dnsSearch?.length ? { search: opts.dnsSearch } : {}),
    ...(opts.dnsOptions?.length ? { options: opts.dnsOptions } : {}),
  };
  let common = { ...(Object.keys(dns).length ? { dns } : {}), ...(opts.extraHosts?.length ? { extraHosts: opts.extraHosts } : {}) };
  // the engine's `dns` setting (daemon.json), for a network without DNS of its own, unless --dns names servers
  const withDefault = () => (defaultDns && !opts.dns?.length ? { ...common, dns: { ...defaultDns, ...dns } } : common);
  if (mode === 'none' || mode === 'host') {
    if (ports.length && mode === 'host') throw new TbuildError('TB_INVALID_ARGUMENT', 'conflicting options: port publishing and the container type network mode');
    if (opts.networkAliases?.length) throw new TbuildError('TB_INVALID_ARGUMENT', 'network-scoped aliases are only supported for user-defined networks');
    if (opts.ip) throw new TbuildError('TB_INVALID_ARGUMENT', 'user specified IP address is supported only when connecting to networks with user configured subnets');
    // Docker accepts -p with --network none and publishes nothing; so do we, but say it loudly instead of silently
    if (ports.length) throw new TbuildError('TB_INVALID_ARGUMENT', 'port publishing needs a network: --network none has none');
    return { network: mode, ...(mode === 'none' ? withDefault() : common) };
  }
  if (mode.startsWith('container:')) throw new TbuildError('TB_CONTAINER_NOT_FOUND', `No such container: ${mode.slice('container:'.length)}`);
  if (!networks) throw new TbuildError('TB_NETWORK_BACKEND_MISSING', `network ${mode} needs the engine's network manager`);
  const net = await networks.inspect(mode === 'bridge' ? networks.defaultNetwork : mode);
  if (net.builtin && opts.networkAliases?.length) throw new TbuildError('TB_INVALID_ARGUMENT', 'network-scoped aliases are only supported for user-defined networks');
  const aliases = net.builtin ? [] : [...(opts.networkAliases ?? []), id.slice(0, 12)];
  if (net.builtin) common = withDefault();
  return {
    network: 'none',
    attach: { networks: [{ network: net.id, aliases, ...(opts.ip ? { ip: opts.ip } : {}) }], ports },
    ...common,
  };
}

/**
 * `--network container:CTR`: nothing of its own to plumb, so everything that would shape a
 * network of its own is refused with Docker's words rather than dropped.
 */
function sharedNetwork(opts: CreateContainerOptions, joined: StoredConfig): Pick<RuntimeConfig, 'network' | 'netContainer'> {
  const conflict = (what: string) => new TbuildError('TB_INVALID_ARGUMENT', `conflicting options: ${what}`);
  if (opts.hostname) throw conflict('hostname and the network mode');
  if (opts.dns?.length || opts.dnsSearch?.length || opts.dnsOptions?.length) throw conflict('dns and the network mode');
  if (opts.extraHosts?.length) throw conflict('custom host-to-IP mapping and the network mode');
  if (opts.ports?.length || opts.publishAll) throw conflict('port publishing and the container type network mode');
  if (opts.exposedPorts?.length) throw conflict('port exposing and the container type network mode');
  if (opts.networkAliases?.length) throw new TbuildError('TB_INVALID_ARGUMENT', 'network-scoped aliases are only supported for user-defined networks');
  if (opts.ip) throw new TbuildError('TB_INVALID_ARGUMENT', 'user specified IP address is supported only when connecting to networks with user configured subnets');
  return { network: 'none', netContainer: joined.id };
}

const ADJECTIVES = ['brave', 'calm', 'eager', 'fancy', 'gentle', 'happy', 'jolly', 'keen', 'lucid', 'merry', 'nimble', 'proud', 'quiet', 'swift', 'tender', 'vivid', 'witty', 'zen'];
const NOUNS = ['babbage', 'curie', 'darwin', 'euler', 'fermi', 'gauss', 'hopper', 'lovelace', 'noether', 'pascal', 'ritchie', 'shannon', 'turing', 'wozniak'];

export function randomName(taken: Set<string>): string {
  for (let i = 0; ; i++) {
    const a = ADJECTIVES[Math.floor(Math.random() * ADJECTIVES.length)]!;
    const n = NOUNS[Math.floor(Math.random() * NOUNS.length)]!;
    const name = i < 10 ? `${a}_${n}` : `${a}_${n}${i}`;
    if (!taken.has(name)) return name;
  }
}
