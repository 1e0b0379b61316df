import type { ContainerRecord, CreateContainerOptions, MountPoint, VolumeMountSpec } from '../../containers/types.js';
import type { ContainerConfig } from '../../images/types.js';
import { humanDuration, unixSeconds, ZERO_TIME } from '../../util/time.js';
import { securityToHostConfig } from '../../exec/security/host-config.js';
import { MASKED_PATHS, READONLY_PATHS } from '../../exec/spec.js';
import { volumeSpecString } from '../../containers/volume-spec.js';
import { digestHex, sha256 } from '../../util/digest.js';
import type { Endpoint, PortMapping } from '../../network/types.js';

/** "Up 3 seconds", "Exited (0) 2 seconds ago", "Created", as `docker ps` shows them. */
export function statusText(c: ContainerRecord, now = Date.now()): string {
  const s = c.state;
  const since = (iso: string) => humanDuration(Math.max(0, now - Date.parse(iso)));
  switch (s.status) {
    case 'running':
      // Docker: `Up 5 seconds (healthy)`, `(health: starting)` while it starts
      return `Up ${since(s.startedAt)}${c.health ? (c.health.Status === 'starting' ? ' (health: starting)' : ` (${c.health.Status})`) : ''}`;
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

/** Docker's `.Mounts` entry: the resolved mount when the record has it, else what was asked for. */
function mountPointShape(m: MountPoint): Record<string, unknown> {
  return m.type === 'volume'
    ? { Type: 'volume', Name: m.name, Source: m.source, Destination: m.destination, Driver: 'local', Mode: m.mode, RW: m.rw, Propagation: m.propagation }
    : { Type: 'bind', Source: m.source, Destination: m.destination, Mode: m.mode, RW: m.rw, Propagation: m.propagation };
}

function mountsOf(c: ContainerRecord): Array<Record<string, unknown>> {
  return c.mountPoints ? c.mountPoints.map(mountPointShape) : (c.options.mounts ?? []).filter((m) => m.type !== 'tmpfs').map(mountShape);
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
  // Docker lists no network for a container that shares another's namespace
  if (o.network?.startsWith('container:')) return {};
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
    Mounts: mountsOf(c),
  };
}

/**
 * Docker's `HostConfig`, every key Docker 26 returns in its order, with Docker's defaults for what
 * tbuild does not set (testdata/docker26 holds dockerd 26's own answers; a test compares keys).
 */
function hostConfig(o: CreateContainerOptions): Record<string, unknown> {
  const r = o.resources ?? {};
  // `-v` entries with a source, as given; anonymous volumes are Config.Volumes, `--mount`s are Mounts
  const binds = (o.mounts ?? []).map((m) => (m.type !== 'tmpfs' && m.source && (m.type === 'volume' || m.createSource) ? volumeSpecString(m) : undefined)).filter((b): b is string => !!b);
  const given = (o.mounts ?? []).filter((m) => m.type !== 'tmpfs' && !(m.source && (m.type === 'volume' || m.createSource)) && m.source);
  const sec = securityToHostConfig(o.security);
  const privileged = Boolean(o.security?.privileged);
  return {
    Binds: binds.length ? binds : null,
    ContainerIDFile: '',
    LogConfig: { Type: 'json-file', Config: {} },
    NetworkMode: networkMode(o),
    PortBindings: portMap(o.ports ?? [], true),
    RestartPolicy: { Name: o.restartPolicy?.name ?? 'no', MaximumRetryCount: o.restartPolicy?.maximumRetryCount ?? 0 },
    AutoRemove: Boolean(o.autoRemove),
    VolumeDriver: '',
    VolumesFrom: o.volumesFrom?.length ? o.volumesFrom : null,
    ConsoleSize: o.consoleSize ? [o.consoleSize.height, o.consoleSize.width] : [0, 0],
    CapAdd: sec.CapAdd,
    CapDrop: sec.CapDrop,
    CgroupnsMode: 'host',
    Dns: o.dns ?? [],
    DnsOptions: o.dnsOptions ?? [],
    DnsSearch: o.dnsSearch ?? [],
    ExtraHosts: o.extraHosts ?? null,
    GroupAdd: null,
    IpcMode: 'private',
    Cgroup: '',
    Links: null,
    OomScoreAdj: 0,
    PidMode: '',
    Privileged: privileged,
    PublishAllPorts: Boolean(o.publishAll),
    ReadonlyRootfs: Boolean(o.readonlyRootfs),
    SecurityOpt: sec.SecurityOpt,
    UTSMode: '',
    UsernsMode: '',
    ShmSize: sec.ShmSize,
    Runtime: 'runc',
    Isolation: '',
    CpuShares: r.cpuShares ?? 0,
    Memory: r.memory ?? 0,
    NanoCpus: r.cpuQuota && r.cpuPeriod ? Math.round((r.cpuQuota / r.cpuPeriod) * 1e9) : 0,
    CgroupParent: '',
    BlkioWeight: 0,
    BlkioWeightDevice: [],
    BlkioDeviceReadBps: [],
    BlkioDeviceWriteBps: [],
    BlkioDeviceReadIOps: [],
    BlkioDeviceWriteIOps: [],
    CpuPeriod: r.cpuPeriod ?? 0,
    CpuQuota: r.cpuQuota ?? 0,
    CpuRealtimePeriod: 0,
    CpuRealtimeRuntime: 0,
    CpusetCpus: '',
    CpusetMems: '',
    Devices: sec.Devices,
    DeviceCgroupRules: null,
    DeviceRequests: null,
    MemoryReservation: 0,
    // tbuild gives a memory-limited container no swap: its memory+swap limit is the memory limit
    MemorySwap: r.memorySwap ?? r.memory ?? 0,
    MemorySwappiness: null,
    OomKillDisable: false,
    PidsLimit: r.pidsLimit ?? null,
    Ulimits: sec.Ulimits,
    CpuCount: 0,
    CpuPercent: 0,
    IOMaximumIOps: 0,
    IOMaximumBandwidth: 0,
    ...(given.length ? { Mounts: given.map((m) => ({ Type: m.type, Source: m.source, Target: m.target, ReadOnly: m.readonly })) } : {}),
    ...(o.security?.init ? { Init: true } : {}),
    ...(tmpfsOf(o) ? { Tmpfs: tmpfsOf(o) } : {}),
    MaskedPaths: privileged ? null : MASKED_PATHS,
    ReadonlyPaths: privileged ? null : READONLY_PATHS,
  };
}

/** Docker's Config.Volumes: the image's VOLUMEs and the container's anonymous volumes (`-v /path`). */
function volumesOf(o: CreateContainerOptions, image: ContainerConfig | undefined): Record<string, Record<string, never>> | null {
  const out: Record<string, Record<string, never>> = { ...(image?.Volumes ?? {}) };
  for (const m of o.mounts ?? []) if (m.type === 'volume' && !m.source) out[m.target] = {};
  return Object.keys(out).length ? out : null;
}

/** Docker shows the container's healthcheck merged over the image's (`NONE` included). */
function healthOf(o: CreateContainerOptions, image: ContainerConfig | undefined): ContainerConfig['Healthcheck'] {
  if (!o.healthcheck && !image?.Healthcheck) return undefined;
  return { ...(image?.Healthcheck ?? {}), ...(o.healthcheck ?? {}) };
}

function tmpfsOf(o: CreateContainerOptions): Record<string, string> | undefined {
  const t = (o.mounts ?? []).filter((m) => m.type === 'tmpfs');
  return t.length ? Object.fromEntries(t.map((m) => [m.target, (m.tmpfsOptions ?? []).join(',')])) : undefined;
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
      ...(c.health ? { Health: c.health } : {}),
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
    Mounts: mountsOf(c),
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
      Volumes: volumesOf(o, image),
      WorkingDir: c.workingDir,
      Entrypoint: o.entrypoint ?? image?.Entrypoint ?? null,
      OnBuild: null,
      Labels: { ...(image?.Labels ?? {}), ...(o.labels ?? {}) },
      StopSignal: o.stopSignal ?? image?.StopSignal,
      ...(o.stopTimeout !== undefined ? { StopTimeout: o.stopTimeout } : {}),
      ...(healthOf(o, image) ? { Healthcheck: healthOf(o, image) } : {}),
    },
    NetworkSettings: networkSettings(c),
  };
}
