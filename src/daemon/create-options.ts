import type { CreateContainerOptions, VolumeMountSpec } from '../containers/types.js';
import { badRequest, consoleSizeParam } from './http.js';
import { parseVolumeSpec, PROPAGATIONS, type Propagation } from '../containers/volume-spec.js';
import { securityFromHostConfig } from '../exec/security/host-config.js';
import { NETWORK_HOST_CONFIG, networkFromBody } from './create-network.js';

type Json = Record<string, unknown>;

function strList(v: unknown, field: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw badRequest(`${field} must be a string or an array of strings`);
}

function str(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw badRequest(`${field} must be a string`);
  return v;
}

function num(v: unknown, field: string): number | undefined {
  if (v === undefined || v === null || v === 0) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw badRequest(`${field} must be a non-negative number`);
  return v;
}

function obj(v: unknown, field: string): Json {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw badRequest(`${field} must be an object`);
  return v as Json;
}

/** A `Binds` entry (`-v src:dst[:opts]`); see containers/volume-spec.ts. */
export function parseBind(spec: string): VolumeMountSpec {
  if (spec.split(':').length < 2) throw badRequest(`invalid volume specification: '${spec}'`);
  return parseVolumeSpec(spec);
}

/** One `HostConfig.Mounts[]` entry (`--mount`); options it does not carry out are refused by name. */
function parseMount(m: unknown): VolumeMountSpec {
  const o = obj(m, 'Mounts[]');
  const type = o.Type ?? 'volume';
  if (type !== 'bind' && type !== 'volume' && type !== 'tmpfs') throw badRequest(`mount type ${String(type)} is not supported`);
  const target = str(o.Target, 'Mounts[].Target');
  if (!target || !target.startsWith('/')) throw badRequest('Mounts[].Target must be an absolute path');
  const source = str(o.Source, 'Mounts[].Source') ?? '';
  if (type === 'bind' && !source.startsWith('/')) throw badRequest('invalid mount config for type "bind": bind source path must be absolute');
  if (type === 'tmpfs' && source) throw badRequest('invalid mount config for type "tmpfs": source must not be specified');
  const spec: VolumeMountSpec = { type, source, target, readonly: Boolean(o.ReadOnly) };
  const bindOpts = obj(o.BindOptions, 'Mounts[].BindOptions');
  const volumeOpts = obj(o.VolumeOptions, 'Mounts[].VolumeOptions');
  const tmpfsOpts = obj(o.TmpfsOptions, 'Mounts[].TmpfsOptions');
  if (type !== 'bind' && !isUnset(bindOpts)) throw badRequest(`invalid mount config for type "${type}": BindOptions apply to bind mounts only`);
  if (type !== 'volume' && !isUnset(volumeOpts)) throw badRequest(`invalid mount config for type "${type}": VolumeOptions apply to volumes only`);
  if (type !== 'tmpfs' && !isUnset(tmpfsOpts)) throw badRequest(`invalid mount config for type "${type}": TmpfsOptions apply to tmpfs mounts only`);
  for (const [k, v] of Object.entries(bindOpts)) {
    if (k === 'Propagation' && v) {
      if (!(PROPAGATIONS as readonly unknown[]).includes(v)) throw badRequest(`invalid propagation mode: ${String(v)}`);
      spec.propagation = v as Propagation;
    } else if (k === 'CreateMountpoint' && v === true) spec.createSource = true;
    else if (!isUnset(v)) throw badRequest(`Mounts[].BindOptions.${k} is not supported by tbuild`);
  }
  for (const [k, v] of Object.entries(volumeOpts)) {
    if (k === 'NoCopy' && v === true) spec.noCopy = true;
    else if (k === 'Labels' && !isUnset(v)) spec.volumeLabels = Object.fromEntries(Object.entries(obj(v, 'Mounts[].VolumeOptions.Labels')).map(([a, b]) => [a, String(b)]));
    else if (k === 'DriverConfig' && !isUnset(v)) {
      const name = (v as Json).Name;
      if (name !== undefined && name !== '' && name !== 'local') throw badRequest(`volume driver ${String(name)} is not supported`);
      if (!isUnset((v as Json).Options)) throw badRequest('Mounts[].VolumeOptions.DriverConfig.Options are not supported by tbuild');
    } else if (!isUnset(v)) throw badRequest(`Mounts[].VolumeOptions.${k} is not supported by tbuild`);
  }
  const tmpfsOptions: string[] = [];
  for (const [k, v] of Object.entries(tmpfsOpts)) {
    if (k === 'SizeBytes' && !isUnset(v)) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw badRequest('Mounts[].TmpfsOptions.SizeBytes must be a non-negative integer');
      tmpfsOptions.push(`size=${v}`);
    } else if (k === 'Mode' && !isUnset(v)) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0o7777) throw badRequest('Mounts[].TmpfsOptions.Mode must be a file mode');
      tmpfsOptions.push(`mode=${v.toString(8)}`);
    } else if (!isUnset(v)) throw badRequest(`Mounts[].TmpfsOptions.${k} is not supported by tbuild`);
  }
  if (tmpfsOptions.length) spec.tmpfsOptions = tmpfsOptions;
  for (const k of Object.keys(o)) {
    if (!['Type', 'Source', 'Target', 'ReadOnly', 'BindOptions', 'VolumeOptions', 'TmpfsOptions', 'Consistency'].includes(k) && !isUnset(o[k])) {
      throw badRequest(`Mounts[].${k} is not supported by tbuild`);
    }
  }
  return spec;
}

/** HostConfig fields this daemon carries out (createOptionsFromBody reads each of them). */
const HANDLED = new Set([
  'Binds', 'Mounts', 'Tmpfs', 'NetworkMode', 'AutoRemove', 'Memory', 'NanoCpus', 'CpuQuota', 'CpuPeriod', 'CpuShares',
  'PidsLimit', 'RestartPolicy', 'ReadonlyRootfs', 'SecurityOpt', 'CapAdd', 'CapDrop', 'Privileged', 'Devices', 'Init',
  'Ulimits', 'ShmSize', 'VolumesFrom', ...NETWORK_HOST_CONFIG,
  // Client-side: the CLI writes the id file itself.
  'ContainerIDFile', 'ConsoleSize',
]);

/** Values that mean "not set" for fields we do not carry out (what the Docker CLI sends by default). */
const UNSET_VALUES: Record<string, unknown[]> = {
  MemorySwappiness: [-1],
  Isolation: ['default'],
};

function isUnset(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.values(v as Json).every(isUnset);
  return false;
}

/**
 * Nothing is silently ignored: a HostConfig field set to something we would not carry out is a
 * 400 naming it (the Docker CLI sends every field, so zero values pass).
 */
function refuseUnhandled(hc: Json): void {
  for (const [k, v] of Object.entries(hc)) {
    if (HANDLED.has(k) || isUnset(v) || UNSET_VALUES[k]?.includes(v)) continue;
    if (k === 'LogConfig' && (v as Json).Type === 'json-file' && isUnset((v as Json).Config)) continue;
    throw badRequest(`HostConfig.${k} is not supported by this daemon (got ${JSON.stringify(v).slice(0, 80)})`);
  }
}

/**
 * Docker's Config fields tbuild does not carry out. Set, each is a 400 naming it; fields Docker
 * itself does not know are ignored, as Go's JSON decoding in dockerd ignores them.
 */
const CONFIG_REFUSED = ['Domainname', 'MacAddress', 'NetworkDisabled', 'OnBuild', 'Shell'];

function refuseUnhandledConfig(body: Json): void {
  for (const k of CONFIG_REFUSED) {
    if (!isUnset(body[k])) throw badRequest(`${k} is not supported by tbuild (got ${JSON.stringify(body[k]).slice(0, 80)})`);
  }
}

/** `Config.Healthcheck` (durations in ns, as Docker's API has them), checked as Docker checks them. */
function healthcheckFromBody(h: Json): NonNullable<CreateContainerOptions['healthcheck']> {
  const out: NonNullable<CreateContainerOptions['healthcheck']> = {};
  const test = strList(h.Test, 'Healthcheck.Test');
  if (test?.length) {
    if (!['NONE', 'CMD', 'CMD-SHELL'].includes(test[0]!)) throw badRequest(`Healthcheck.Test must start with NONE, CMD or CMD-SHELL (got ${test[0]})`);
    out.Test = test;
  }
  const ms = 1_000_000;
  for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval'] as const) {
    const v = h[k];
    if (v === undefined || v === null || v === 0) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw badRequest(`Healthcheck.${k} must be a duration in nanoseconds`);
    // Docker's floor for the durations it accepts
    if (v < ms) throw badRequest(`${k} in Healthcheck cannot be less than 1ms`);
    out[k] = v;
  }
  if (h.Retries !== undefined && h.Retries !== null && h.Retries !== 0) {
    if (typeof h.Retries !== 'number' || !Number.isInteger(h.Retries) || h.Retries < 0) throw badRequest('Retries in Healthcheck cannot be negative');
    out.Retries = h.Retries;
  }
  for (const k of Object.keys(h)) if (!['Test', 'Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries'].includes(k)) throw badRequest(`Healthcheck.${k} is not supported by tbuild`);
  return out;
}

/** `POST /containers/create` body → the container manager's options. Unhandled HostConfig fields are refused. */
export function createOptionsFromBody(body: Json, name: string | undefined): CreateContainerOptions {
  const image = str(body.Image, 'Image');
  if (!image) throw badRequest('Config cannot be empty in order to create a container');
  const hc = obj(body.HostConfig, 'HostConfig');
  const opts: CreateContainerOptions = { image };
  if (name) {
    if (!/^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw badRequest(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    opts.name = name.replace(/^\//, '');
  }
  const cmd = strList(body.Cmd, 'Cmd');
  if (cmd) opts.cmd = cmd;
  const entrypoint = strList(body.Entrypoint, 'Entrypoint');
  if (entrypoint) opts.entrypoint = entrypoint;
  const env = strList(body.Env, 'Env');
  if (env) opts.env = env;
  const wd = str(body.WorkingDir, 'WorkingDir');
  if (wd) opts.workingDir = wd;
  const user = str(body.User, 'User');
  if (user) opts.user = user;
  const hostname = str(body.Hostname, 'Hostname');
  if (hostname) opts.hostname = hostname;
  if (body.Tty) opts.tty = true;
  if (body.OpenStdin) opts.openStdin = true;
  if (body.StdinOnce) opts.stdinOnce = true;
  const stopSignal = str(body.StopSignal, 'StopSignal');
  if (stopSignal) opts.stopSignal = stopSignal;
  if (body.StopTimeout !== undefined && body.StopTimeout !== null) {
    if (typeof body.StopTimeout !== 'number' || !Number.isInteger(body.StopTimeout)) throw badRequest('StopTimeout must be an integer number of seconds');
    opts.stopTimeout = body.StopTimeout;
  }
  refuseUnhandledConfig(body);
  const hc0 = obj(body.Healthcheck, 'Healthcheck');
  if (Object.keys(hc0).length) opts.healthcheck = healthcheckFromBody(hc0);
  const labels = obj(body.Labels, 'Labels');
  if (Object.keys(labels).length) opts.labels = Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, String(v)]));
  const ports = Object.keys(obj(body.ExposedPorts, 'ExposedPorts'));
  if (ports.length) opts.exposedPorts = ports;

  const mounts: VolumeMountSpec[] = [];
  for (const b of strList(hc.Binds, 'HostConfig.Binds') ?? []) mounts.push(parseBind(b));
  if (hc.Mounts !== undefined && hc.Mounts !== null) {
    if (!Array.isArray(hc.Mounts)) throw badRequest('HostConfig.Mounts must be an array');
    for (const m of hc.Mounts) mounts.push(parseMount(m));
  }
  for (const [target, o] of Object.entries(obj(hc.Tmpfs, 'HostConfig.Tmpfs'))) {
    if (!target.startsWith('/')) throw badRequest(`invalid tmpfs mount path: ${target}`);
    const tmpfsOptions = String(o ?? '').split(',').filter(Boolean);
    mounts.push({ type: 'tmpfs', source: '', target, readonly: tmpfsOptions.includes('ro'), ...(tmpfsOptions.length ? { tmpfsOptions } : {}) });
  }
  // `-v /path` (no source) arrives as Config.Volumes: an anonymous volume, as an image's VOLUME is
  for (const target of Object.keys(obj(body.Volumes, 'Volumes'))) {
    if (!target.startsWith('/')) throw badRequest(`invalid volume specification: '${target}': mount path must be absolute`);
    if (!mounts.some((m) => m.target === target)) mounts.push({ type: 'volume', source: '', target, readonly: false });
  }
  const seen = new Set<string>();
  for (const m of mounts) {
    if (seen.has(m.target)) throw badRequest(`Duplicate mount point: ${m.target}`);
    seen.add(m.target);
  }
  if (mounts.length) opts.mounts = mounts;
  const from = strList(hc.VolumesFrom, 'HostConfig.VolumesFrom');
  if (from?.length) opts.volumesFrom = from;

  networkFromBody(body, hc, opts);
  if (hc.AutoRemove) opts.autoRemove = true;

  const resources: NonNullable<CreateContainerOptions['resources']> = {};
  const memory = num(hc.Memory, 'HostConfig.Memory');
  if (memory) resources.memory = memory;
  const nano = num(hc.NanoCpus, 'HostConfig.NanoCpus');
  const quota = num(hc.CpuQuota, 'HostConfig.CpuQuota');
  const period = num(hc.CpuPeriod, 'HostConfig.CpuPeriod');
  // Docker's rule: --cpus is a quota over its own period, so neither may be given beside it
  if (nano && quota) throw badRequest('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  if (nano && period) throw badRequest('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (nano) {
    resources.cpuPeriod = 100_000;
    resources.cpuQuota = Math.round((nano / 1e9) * 100_000);
  }
  if (quota) resources.cpuQuota = quota;
  if (quota || period) resources.cpuPeriod = period ?? 100_000;
  const shares = num(hc.CpuShares, 'HostConfig.CpuShares');
  if (shares) resources.cpuShares = shares;
  if (typeof hc.PidsLimit === 'number' && hc.PidsLimit > 0) resources.pidsLimit = hc.PidsLimit;
  if (Object.keys(resources).length) opts.resources = resources;

  if (hc.ReadonlyRootfs === true) opts.readonlyRootfs = true;
  const consoleSize = consoleSizeParam(hc.ConsoleSize, 'HostConfig.ConsoleSize');
  if (consoleSize) opts.consoleSize = consoleSize;
  const security = securityFromHostConfig(hc);
  if (security) opts.security = security;
  refuseUnhandled(hc);

  const rp = obj(hc.RestartPolicy, 'HostConfig.RestartPolicy');
  const rpName = str(rp.Name, 'RestartPolicy.Name');
  if (typeof rp.MaximumRetryCount === 'number' && rp.MaximumRetryCount > 0 && rpName !== 'on-failure') {
    throw badRequest("invalid restart policy: maximum retry count can only be used with 'on-failure'");
  }
  if (rpName && rpName !== 'no') {
    if (!['on-failure', 'always', 'unless-stopped'].includes(rpName)) throw badRequest(`invalid restart policy: ${rpName}`);
    if (opts.autoRemove) throw badRequest('can\'t create \'AutoRemove\' container with restart policy');
    opts.restartPolicy = { name: rpName as 'on-failure' | 'always' | 'unless-stopped' };
    if (typeof rp.MaximumRetryCount === 'number' && rp.MaximumRetryCount > 0) opts.restartPolicy.maximumRetryCount = rp.MaximumRetryCount;
  }
  return opts;
}
