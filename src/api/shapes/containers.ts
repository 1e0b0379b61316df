import type { ContainerRecord, CreateContainerOptions, VolumeMountSpec } from '../../containers/types.js';
import type { ContainerConfig } from '../../images/types.js';
import { humanDuration, unixSeconds, ZERO_TIME } from '../../util/time.js';
import { securityToHostConfig } from '../../exec/security/host-config.js';

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

/** `GET /containers/json` entry. */
export function containerSummary(c: ContainerRecord, now = Date.now()): Record<string, unknown> {
  return {
    Id: c.id,
    Names: [`/${c.name}`],
    Image: c.image,
    ImageID: c.imageId,
    Command: commandText(c),
    Created: unixSeconds(c.created),
    Ports: [],
    Labels: c.options.labels ?? {},
    State: c.state.status,
    Status: statusText(c, now),
    HostConfig: { NetworkMode: networkMode(c.options) },
    NetworkSettings: { Networks: {} },
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
    PortBindings: {},
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
    NetworkSettings: {
      Bridge: '',
      SandboxID: '',
      HairpinMode: false,
      Ports: {},
      SandboxKey: '',
      IPAddress: '',
      IPPrefixLen: 0,
      Gateway: '',
      MacAddress: '',
      Networks: {},
    },
  };
}
