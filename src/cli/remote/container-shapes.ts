/**
 * Docker's container JSON and our records, both ways: what `GET /containers/{id}/json` and
 * `/containers/json` say becomes a `ContainerRecord`; `CreateContainerOptions` becomes the body of
 * `POST /containers/create`. Kept apart from the client so the shapes can be read on their own.
 */
import { parseVolumeSpec, volumeSpecString } from '../../containers/volume-spec.js';
import type {
  ContainerRecord,
  ContainerStatus,
  CreateContainerOptions,
  VolumeMountSpec,
} from '../../containers/types.js';
import { securityFromHostConfig, securityToHostConfig } from '../../exec/security/host-config.js';
import { parsePortBindings } from '../../network/ports.js';
import type { PortMapping } from '../../network/types.js';

export type Json = Record<string, unknown>;

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function strList(v: unknown): string[] | undefined {
  return Array.isArray(v) ? v.map(String) : undefined;
}

/** Security options as inspect reports them (ShmSize at Docker's default means none was given). */
function securityOf(hc: Json): Pick<CreateContainerOptions, 'security'> {
  const sec = securityFromHostConfig({ ...hc, ShmSize: hc.ShmSize === 67108864 ? 0 : hc.ShmSize });
  return sec ? { security: sec } : {};
}

/** Docker's PortBindings for `-p` mappings (host port 0: an empty HostPort, any free one). */
function portBindings(ports: PortMapping[]): Record<string, Array<{ HostIp: string; HostPort: string }>> {
  const out: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const p of ports) {
    const key = `${p.containerPort}${p.range > 1 ? `-${p.containerPort + p.range - 1}` : ''}/${p.protocol}`;
    const host = p.hostPort ? `${p.hostPort}${p.range > 1 ? `-${p.hostPort + p.range - 1}` : ''}` : '';
    (out[key] ??= []).push({ HostIp: p.hostIp, HostPort: host });
  }
  return out;
}

function networkOptionsOf(hc: Json): Partial<CreateContainerOptions> {
  const ports = parsePortBindings(hc.PortBindings ?? null);
  const list = (v: unknown) => (Array.isArray(v) && v.length ? (v as string[]) : undefined);
  return {
    ...(ports.length ? { ports } : {}),
    ...(hc.PublishAllPorts ? { publishAll: true } : {}),
    ...(list(hc.ExtraHosts) ? { extraHosts: list(hc.ExtraHosts)! } : {}),
    ...(list(hc.Dns) ? { dns: list(hc.Dns)! } : {}),
    ...(list(hc.DnsSearch) ? { dnsSearch: list(hc.DnsSearch)! } : {}),
    ...(list(hc.DnsOptions) ? { dnsOptions: list(hc.DnsOptions)! } : {}),
  };
}

/** Live network facts from `NetworkSettings` (a running container's addresses and ports). */
function networkStatusOf(j: Json): ContainerRecord['network'] {
  const ns = (j.NetworkSettings ?? {}) as Json;
  if (!ns.SandboxKey) return undefined;
  const endpoints = Object.entries((ns.Networks ?? {}) as Record<string, Json>)
    .filter(([, e]) => e.IPAddress)
    .map(([network, e]) => ({
      network,
      networkId: str(e.NetworkID),
      ipAddress: str(e.IPAddress),
      prefixLen: Number(e.IPPrefixLen ?? 0),
      gateway: str(e.Gateway),
      macAddress: str(e.MacAddress),
      aliases: (e.Aliases as string[] | null) ?? [],
    }));
  const ports: PortMapping[] = [];
  for (const [key, binds] of Object.entries((ns.Ports ?? {}) as Record<string, Array<{ HostIp: string; HostPort: string }> | null>)) {
    const [port, proto] = key.split('/');
    for (const b of binds ?? []) ports.push({ hostIp: b.HostIp === '0.0.0.0' ? '' : b.HostIp, hostPort: Number(b.HostPort), containerPort: Number(port), protocol: proto === 'udp' ? 'udp' : 'tcp', range: 1 });
  }
  return { netnsPath: str(ns.SandboxKey), endpoints, ports };
}

/** `GET /containers/{id}/json` back into the manager's record. */
export function containerFromApi(j: Json): ContainerRecord {
  const cfg = (j.Config ?? {}) as Json;
  const hc = (j.HostConfig ?? {}) as Json;
  const st = (j.State ?? {}) as Json;
  const name = str(j.Name).replace(/^\//, '');
  // `-v` entries (Binds), `--mount`s (HostConfig.Mounts), then anonymous volumes (Config.Volumes)
  const mounts: VolumeMountSpec[] = [
    ...((hc.Binds as string[] | null) ?? []).map(parseVolumeSpec),
    ...((hc.Mounts as Json[] | null) ?? []).map((m) => ({
      type: (m.Type as VolumeMountSpec['type']) ?? 'volume',
      source: str(m.Source),
      target: str(m.Target),
      readonly: Boolean(m.ReadOnly),
    })),
  ];
  for (const target of Object.keys((cfg.Volumes as Json | null) ?? {})) {
    if (!mounts.some((m) => m.target === target)) mounts.push({ type: 'volume', source: '', target, readonly: false });
  }
  const net = str(hc.NetworkMode);
  const rp = (hc.RestartPolicy ?? {}) as Json;
  const resources: NonNullable<CreateContainerOptions['resources']> = {};
  if (typeof hc.Memory === 'number' && hc.Memory > 0) resources.memory = hc.Memory;
  if (typeof hc.CpuQuota === 'number' && hc.CpuQuota > 0) resources.cpuQuota = hc.CpuQuota;
  if (typeof hc.CpuPeriod === 'number' && hc.CpuPeriod > 0) resources.cpuPeriod = hc.CpuPeriod;
  if (typeof hc.CpuShares === 'number' && hc.CpuShares > 0) resources.cpuShares = hc.CpuShares;
  if (typeof hc.PidsLimit === 'number' && hc.PidsLimit > 0) resources.pidsLimit = hc.PidsLimit;
  const labels = (cfg.Labels ?? {}) as Record<string, string>;
  const options: CreateContainerOptions = {
    image: str(cfg.Image),
    name,
    ...(strList(cfg.Cmd) ? { cmd: strList(cfg.Cmd)! } : {}),
    ...(strList(cfg.Entrypoint) ? { entrypoint: strList(cfg.Entrypoint)! } : {}),
    ...(strList(cfg.Env) ? { env: strList(cfg.Env)! } : {}),
    ...(str(cfg.WorkingDir) ? { workingDir: str(cfg.WorkingDir) } : {}),
    ...(str(cfg.User) ? { user: str(cfg.User) } : {}),
    tty: Boolean(cfg.Tty),
    openStdin: Boolean(cfg.OpenStdin),
    stdinOnce: Boolean(cfg.StdinOnce),
    ...(Object.keys(labels).length ? { labels } : {}),
    ...(cfg.ExposedPorts ? { exposedPorts: Object.keys(cfg.ExposedPorts as Json) } : {}),
    ...(str(cfg.Hostname) ? { hostname: str(cfg.Hostname) } : {}),
    network: net || 'default',
    ...networkOptionsOf(hc),
    ...(mounts.length ? { mounts } : {}),
    autoRemove: Boolean(hc.AutoRemove),
    ...(Object.keys(resources).length ? { resources } : {}),
    ...(hc.ReadonlyRootfs ? { readonlyRootfs: true } : {}),
    ...securityOf(hc),
    ...(str(rp.Name) && rp.Name !== 'no'
      ? { restartPolicy: { name: rp.Name as 'on-failure' | 'always' | 'unless-stopped', ...(Number(rp.MaximumRetryCount) > 0 ? { maximumRetryCount: Number(rp.MaximumRetryCount) } : {}) } }
      : {}),
  };
  return {
    id: str(j.Id),
    name,
    image: str(cfg.Image),
    imageId: str(j.Image),
    created: str(j.Created),
    options,
    path: str(j.Path),
    args: strList(j.Args) ?? [],
    env: strList(cfg.Env) ?? [],
    workingDir: str(cfg.WorkingDir),
    user: str(cfg.User),
    state: {
      status: (str(st.Status) || 'created') as ContainerStatus,
      pid: Number(st.Pid ?? 0),
      exitCode: Number(st.ExitCode ?? 0),
      oomKilled: Boolean(st.OOMKilled),
      error: str(st.Error),
      startedAt: str(st.StartedAt),
      finishedAt: str(st.FinishedAt),
      restartCount: Number(j.RestartCount ?? 0),
    },
    snapshotKey: '',
    logPath: str(j.LogPath),
    ...(networkStatusOf(j) ? { network: networkStatusOf(j)! } : {}),
  };
}

/** Mounts sent as HostConfig.Mounts; --tmpfs ones (with options) go in HostConfig.Tmpfs. */
/** Mounts that need `--mount` form (the rest go as `-v` strings: Binds, or Volumes for anonymous ones). */
function mountsOf(o: CreateContainerOptions): VolumeMountSpec[] {
  return (o.mounts ?? []).filter((m) => !(m.type === 'tmpfs' && m.tmpfsOptions) && volumeSpecString(m) === undefined);
}

function bindsOf(o: CreateContainerOptions): string[] {
  return (o.mounts ?? []).map((m) => (m.type === 'volume' && !m.source ? undefined : volumeSpecString(m))).filter((b): b is string => b !== undefined);
}

function anonymousOf(o: CreateContainerOptions): string[] {
  return (o.mounts ?? []).filter((m) => m.type === 'volume' && !m.source && volumeSpecString(m) !== undefined).map((m) => m.target);
}

function mountBody(m: VolumeMountSpec): Json {
  return {
    Type: m.type,
    Source: m.source,
    Target: m.target,
    ReadOnly: m.readonly,
    ...(m.type === 'bind' && (m.propagation || m.createSource) ? { BindOptions: { ...(m.propagation ? { Propagation: m.propagation } : {}), ...(m.createSource ? { CreateMountpoint: true } : {}) } } : {}),
    ...(m.type === 'volume' && (m.noCopy || m.volumeLabels) ? { VolumeOptions: { ...(m.noCopy ? { NoCopy: true } : {}), ...(m.volumeLabels ? { Labels: m.volumeLabels } : {}) } } : {}),
  };
}

function tmpfsOf(o: CreateContainerOptions): VolumeMountSpec[] {
  return (o.mounts ?? []).filter((m) => m.tmpfsOptions);
}

/** The manager's create options as Docker's create body. */
export function createBody(o: CreateContainerOptions): Json {
  const r = o.resources ?? {};
  return {
    Image: o.image,
    ...(o.cmd ? { Cmd: o.cmd } : {}),
    ...(o.entrypoint ? { Entrypoint: o.entrypoint } : {}),
    ...(o.env ? { Env: o.env } : {}),
    ...(o.workingDir ? { WorkingDir: o.workingDir } : {}),
    ...(o.user ? { User: o.user } : {}),
    ...(o.hostname ? { Hostname: o.hostname } : {}),
    Tty: Boolean(o.tty),
    OpenStdin: Boolean(o.openStdin),
    StdinOnce: Boolean(o.stdinOnce),
    AttachStdin: Boolean(o.openStdin),
    AttachStdout: true,
    AttachStderr: true,
    ...(o.labels ? { Labels: o.labels } : {}),
    ...(o.healthcheck ? { Healthcheck: o.healthcheck } : {}),
    ...(o.stopSignal ? { StopSignal: o.stopSignal } : {}),
    ...(o.stopTimeout !== undefined ? { StopTimeout: o.stopTimeout } : {}),
    ...(anonymousOf(o).length ? { Volumes: Object.fromEntries(anonymousOf(o).map((t) => [t, {}])) } : {}),
    ...(o.exposedPorts?.length ? { ExposedPorts: Object.fromEntries(o.exposedPorts.map((p) => [p, {}])) } : {}),
    ...(o.networkAliases?.length || o.ip
      ? { NetworkingConfig: { EndpointsConfig: { [o.network && o.network !== 'default' ? o.network : 'bridge']: { ...(o.networkAliases?.length ? { Aliases: o.networkAliases } : {}), ...(o.ip ? { IPAMConfig: { IPv4Address: o.ip } } : {}) } } } }
      : {}),
    HostConfig: {
      NetworkMode: o.network && o.network !== 'default' ? o.network : 'default',
      ...(o.ports?.length ? { PortBindings: portBindings(o.ports) } : {}),
      ...(o.publishAll ? { PublishAllPorts: true } : {}),
      ...(o.extraHosts?.length ? { ExtraHosts: o.extraHosts } : {}),
      ...(o.dns?.length ? { Dns: o.dns } : {}),
      ...(o.dnsSearch?.length ? { DnsSearch: o.dnsSearch } : {}),
      ...(o.dnsOptions?.length ? { DnsOptions: o.dnsOptions } : {}),
      AutoRemove: Boolean(o.autoRemove),
      ...(o.consoleSize ? { ConsoleSize: [o.consoleSize.height, o.consoleSize.width] } : {}),
      ...(bindsOf(o).length ? { Binds: bindsOf(o) } : {}),
      ...(mountsOf(o).length ? { Mounts: mountsOf(o).map(mountBody) } : {}),
      ...(o.volumesFrom?.length ? { VolumesFrom: o.volumesFrom } : {}),
      ...(tmpfsOf(o).length ? { Tmpfs: Object.fromEntries(tmpfsOf(o).map((m) => [m.target, (m.tmpfsOptions ?? []).join(',')])) } : {}),
      ...(o.readonlyRootfs ? { ReadonlyRootfs: true } : {}),
      ...(o.security ? securityToHostConfig(o.security) : {}),
      ...(r.memory ? { Memory: r.memory } : {}),
      ...(r.cpuQuota ? { CpuQuota: r.cpuQuota, CpuPeriod: r.cpuPeriod ?? 100_000 } : {}),
      ...(r.cpuShares ? { CpuShares: r.cpuShares } : {}),
      ...(r.pidsLimit ? { PidsLimit: r.pidsLimit } : {}),
      ...(o.restartPolicy ? { RestartPolicy: { Name: o.restartPolicy.name, MaximumRetryCount: o.restartPolicy.maximumRetryCount ?? 0 } } : {}),
    },
  };
}

/** Go's os.FileMode bits (the archive stat header) → a unix st_mode. */
export function unixMode(goMode: number): number {
  const perm = goMode & 0o7777;
  if (goMode >= 2 ** 31) return 0o040000 | perm;
  if (Math.floor(goMode / 2 ** 27) % 2 === 1) return 0o120000 | perm;
  return 0o100000 | perm;
}

/** The container manager, over the Engine API: same interface, the daemon's containers. */
