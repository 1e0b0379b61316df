import type { ContainerRecord, CreateContainerOptions, VolumeMountSpec } from '../../containers/types.js';
import type { ContainerConfig } from '../../images/types.js';
import { humanDuration, unixSeconds, ZERO_TIME } from '../../util/time.js';
import { securityToHostConfig } from '../../exec/security/host-config.js';
import { digestHex, sha256 } from '../../util/digest.js';
import type { Endpoint, PortMapping } from '../../network/types.js';

/** "Up 3 seconds", "Exited (0) 2 seconds ago", "Created", as `docker ps` shows them. */
export function statusText(c: ContainerRecord, now = Date.now()): string {
  const s = c.state;
  const since = (iso: string) => humanDuration(Math.max(0, now - Date.parse(iso)));
  switch (s.status) {
    case 'running':
      return `Up ${since(s.startedAt)}`;
    case 'paused':
      return `Up ${since(s.startedAt)} (Paused)`;
    case 'restarting':
      return `Restarting (${s.exitCode}) ${since(s.finishedAt)} ago`;
    case 'exited':
      return s.finishedAt && !s.finishedAt.startsWith('0001') ? `Exited (${s.exitCode}) ${since(s.finishedAt)} ago` : `Exited (${s.exitCode})`;
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    default:
      return 'Created';
  }
}

export function commandText(c: ContainerRecord): string {
  return [c.path, ...c.args].join(' ');
}

function mountShape(m: VolumeMountSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {
    Type: m.type,
    Source: m.source,
    Destination: m.target,
    Mode: m.readonly ? 'ro' : '',
    RW: !m.readonly,
    Propagation: m.type === 'bind' ? 'rprivate' : '',
  };
  if (m.type === 'volume') {
    out.Name = m.source;
    out.Driver = 'local';
    out.Mode = m.readonly ? 'ro' : 'z';
  }
  return out;
}

function networkMode(o: CreateContainerOptions): string {
  return !o.network || o.network === 'default' ? 'default' : o.network;
}

/** Network name as Docker keys `NetworkSettings.Networks` (`default` is `bridge`). */
function networkName(o: CreateContainerOptions): string {
  return !o.network || o.network === 'default' ? 'bridge' : o.network;
}

/** Each port of each mapping, as `80/tcp` → `{HostIp, HostPort}` (Docker's PortBindings / Ports). */
function portMap(ports: PortMapping[], requested: boolean): Record<string, Array<{ HostIp: string; HostPort: string }>> {
  const out: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const p of ports) {
    for (let i = 0; i < p.range; i++) {
      const key = `${p.containerPort + i}/${p.protocol}`;
      const hostPort = p.hostPort ? String(p.hostPort + i) : '';
      (out[key] ??= []).push({ HostIp: requested ? p.hostIp : p.hostIp || '0.0.0.0', HostPort: hostPort });
    }
  }
  return out;
}

/** `docker ps`' Ports entries. */
function portList(c: ContainerRecord): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const p of c.network?.ports ?? []) {
    for (let i = 0; i < p.range; i++) out.push({ IP: p.hostIp || '0.0.0.0', PrivatePort: p.containerPort + i, PublicPort: p.hostPort + i, Type: p.protocol });
  }
  return out;
}

/** `NetworkSettings.Networks`: live endpoints while running, the configured networks (no address) otherwise. */
function networksOf(c: ContainerRecord): Record<string, Record<string, unknown>> {
  const o = c.options;
  if (o.network === 'none' || o.network === 'host') return { [o.network]: endpointShape(undefined, c) };
  const live = c.network?.endpoints ?? [];
  if (live.length) return Object.fromEntries(live.map((e) => [e.network, endpointShape(e, c)]));
  return { [networkName(o)]: endpointShape(undefined, c) };
}

function endpointShape(e: Endpoint | undefined, c: ContainerRecord): Record<string, unknown> {
  return {
    IPAMConfig: c.options.ip ? { IPv4Address: c.options.ip } : null,
    Links: null,
    Aliases: e?.aliases.length ? e.aliases : null,
    MacAddress: e?.macAddress ?? '',
    NetworkID: e?.networkId ?? '',
    EndpointID: e ? digestHex(sha256(`${c.id}/${e.networkId}`)) : '',
    Gateway: e?.gateway ?? '',
    IPAddress: e?.ipAddress ?? '',
    IPPrefixLen: e?.prefixLen ?? 0,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    DriverOpts: null,
    DNSNames: e && !networkIsDefault(e.network) ? [c.name, ...e.aliases] : null,
  };
}

const networkIsDefault = (name: string) => name === 'bridge';

/** Docker's `NetworkSettings` block. The top-level address fields describe the default bridge only. */
function networkSettings(c: ContainerRecord): Record<string, unknown> {
  const def = c.network?.endpoints.find((e) => networkIsDefault(e.network));
  return {
    Bridge: '',
    SandboxID: c.network ? digestHex(sha256(c.network.netnsPath)) : '',
    HairpinMode: false,
    Ports: c.network ? portMap(c.network.ports, false) : {},
    SandboxKey: c.network?.netnsPath ?? '',
    IPAddress: def?.ipAddress ?? '',
    IPPrefixLen: def?.prefixLen ?? 0,
    Gateway: def?.gateway ?? '',
    MacAddress: def?.macAddress ?? '',
    Networks: networksOf(c),
  };
}

/** `GET /containers/json` entry. */
export function containerSummary(c: ContainerRecord, now = Date.now()): Record<string, unknown> {
  return {
    Id: c.id,
    Names: [`/${c.name}`],
    Image: c.image,
    ImageID: c.imageId,
    Command: commandText(c),
    Created: unixSeconds(c.created),
    Ports: portList(c),
    Labels: c.options.labels ?? {},
    State: c.state.status,
    Status: statusText(c, now),
    HostConfig: { NetworkMode: networkMode(c.options) },
    NetworkSettings: { Networks: networksOf(c) },
    Mounts: (c.options.mounts ?? []).map(mountShape),
  };
}

function hostConfig(o: CreateContainerOptions): Record<string, unknown> {
  const r = o.resources ?? {};
  const binds = (o.mounts ?? [])
    .filter((m) => m.type !== 'tmpfs')
    .map((m) => `${m.source}:${m.target}${m.readonly ? ':ro' : ''}`);
  return {
    Binds: binds.length ? binds : null,
    NetworkMode: networkMode(o),
    PortBindings: portMap(o.ports ?? [], true),
    PublishAllPorts: Boolean(o.publishAll),
    Dns: o.dns ?? [],
    DnsSearch: o.dnsSearch ?? [],
    DnsOptions: o.dnsOptions ?? [],
    ExtraHosts: o.extraHosts ?? null,
    RestartPolicy: { Name: o.restartPolicy?.name ?? 'no', MaximumRetryCount: o.restartPolicy?.maximumRetryCount ?? 0 },
    AutoRemove: Boolean(o.autoRemove),
    VolumeDriver: '',
    VolumesFrom: null,
    LogConfig: { Type: 'json-file', Config: {} },
    ...securityToHostConfig(o.security),
    ReadonlyRootfs: Boolean(o.readonlyRootfs),
    Tmpfs: Object.fromEntries((o.mounts ?? []).filter((m) => m.type === 'tmpfs').map((m) => [m.target, (m.tmpfsOptions ?? []).join(',')])),
    Memory: r.memory ?? 0,
    NanoCpus: r.cpuQuota && r.cpuPeriod ? Math.round((r.cpuQuota / r.cpuPeriod) * 1e9) : 0,
    CpuShares: r.cpuShares ?? 0,
    CpuPeriod: r.cpuPeriod ?? 0,
    CpuQuota: r.cpuQuota ?? 0,
    PidsLimit: r.pidsLimit ?? null,
    Mounts: (o.mounts ?? []).map((m) => ({ Type: m.type, Source: m.source, Target: m.target, ReadOnly: m.readonly })),
  };
}

/** `GET /containers/{id}/json`. `image` is the image's config, for the effective Config block. */
export function containerInspect(c: ContainerRecord, image: ContainerConfig | undefined, execIds: string[]): Record<string, unknown> {
  const o = c.options;
  const s = c.state;
  const status = s.status;
  const exposed: Record<string, Record<string, never>> = { ...(image?.ExposedPorts ?? {}) };
  for (const p of o.exposedPorts ?? []) exposed[p.includes('/') ? p : `${p}/tcp`] = {};
  // as Docker does, a published port is an exposed one
  for (const key of Object.keys(portMap(o.ports ?? [], true))) exposed[key] = {};
  return {
    Id: c.id,
    Created: c.created,
    Path: c.path,
    Args: c.args,
    State: {
      Status: status,
      Running: status === 'running' || status === 'paused' || status === 'restarting',
      Paused: status === 'paused',
      Restarting: status === 'restarting',
      OOMKilled: s.oomKilled,
      Dead: status === 'dead',
      Pid: s.pid,
      ExitCode: s.exitCode,
      Error: s.error,
      StartedAt: s.startedAt || ZERO_TIME,
      FinishedAt: s.finishedAt || ZERO_TIME,
    },
    Image: c.imageId,
    ResolvConfPath: '',
    HostnamePath: '',
    HostsPath: '',
    LogPath: c.logPath,
    Name: `/${c.name}`,
    RestartCount: s.restartCount,
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: execIds.length ? execIds : null,
    HostConfig: hostConfig(o),
    GraphDriver: { Name: 'overlay2', Data: null },
    Mounts: (o.mounts ?? []).map(mountShape),
    Config: {
      Hostname: o.hostname ?? c.id.slice(0, 12),
      Domainname: '',
      User: c.user,
      AttachStdin: Boolean(o.openStdin),
      AttachStdout: true,
      AttachStderr: true,
      ExposedPorts: Object.keys(exposed).length ? exposed : undefined,
      Tty: Boolean(o.tty),
      OpenStdin: Boolean(o.openStdin),
      StdinOnce: Boolean(o.stdinOnce),
      Env: c.env,
      Cmd: o.cmd ?? (o.entrypoint ? null : (image?.Cmd ?? null)),
      Image: c.image,
      Volumes: image?.Volumes ?? null,
      WorkingDir: c.workingDir,
      Entrypoint: o.entrypoint ?? image?.Entrypoint ?? null,
      OnBuild: null,
      Labels: { ...(image?.Labels ?? {}), ...(o.labels ?? {}) },
      StopSignal: image?.StopSignal,
    },
    NetworkSettings: networkSettings(c),
  };
}
