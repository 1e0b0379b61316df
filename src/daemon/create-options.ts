import type { CreateContainerOptions, VolumeMountSpec } from '../containers/types.js';
import { badRequest } from './http.js';
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

/** `-v src:dst[:opts]`: an absolute source is a bind, anything else names a volume. */
export function parseBind(spec: string): VolumeMountSpec {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3 || !parts[1]) throw badRequest(`invalid volume specification: '${spec}'`);
  const [source, target, mode = ''] = parts as [string, string, string?];
  if (!target.startsWith('/')) throw badRequest(`invalid volume specification: '${spec}': mount path must be absolute`);
  const opts = mode.split(',').filter(Boolean);
  for (const o of opts) if (!['ro', 'rw', 'z', 'Z', 'rprivate', 'private', 'rshared', 'shared', 'rslave', 'slave', 'nocopy'].includes(o)) throw badRequest(`invalid mode: ${o}`);
  return { type: source.startsWith('/') ? 'bind' : 'volume', source, target, readonly: opts.includes('ro') };
}

function parseMount(m: unknown): VolumeMountSpec {
  const o = obj(m, 'Mounts[]');
  const type = o.Type ?? 'volume';
  if (type !== 'bind' && type !== 'volume' && type !== 'tmpfs') throw badRequest(`mount type ${String(type)} is not supported`);
  const target = str(o.Target, 'Mounts[].Target');
  if (!target || !target.startsWith('/')) throw badRequest('Mounts[].Target must be an absolute path');
  const source = str(o.Source, 'Mounts[].Source') ?? '';
  if (type === 'bind' && !source.startsWith('/')) throw badRequest('invalid mount config for type "bind": bind source path must be absolute');
  return { type, source, target, readonly: Boolean(o.ReadOnly) };
}

/** HostConfig fields this daemon carries out (createOptionsFromBody reads each of them). */
const HANDLED = new Set([
  'Binds', 'Mounts', 'Tmpfs', 'NetworkMode', 'AutoRemove', 'Memory', 'NanoCpus', 'CpuQuota', 'CpuPeriod', 'CpuShares',
  'PidsLimit', 'RestartPolicy', 'ReadonlyRootfs', 'SecurityOpt', 'CapAdd', 'CapDrop', 'Privileged', 'Devices', 'Init',
  'Ulimits', 'ShmSize', ...NETWORK_HOST_CONFIG,
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
  if (mounts.length) opts.mounts = mounts;

  networkFromBody(body, hc, opts);
  if (hc.AutoRemove) opts.autoRemove = true;

  const resources: NonNullable<CreateContainerOptions['resources']> = {};
  const memory = num(hc.Memory, 'HostConfig.Memory');
  if (memory) resources.memory = memory;
  const nano = num(hc.NanoCpus, 'HostConfig.NanoCpus');
  if (nano) {
    resources.cpuPeriod = 100_000;
    resources.cpuQuota = Math.round((nano / 1e9) * 100_000);
  }
  const quota = num(hc.CpuQuota, 'HostConfig.CpuQuota');
  if (quota) {
    resources.cpuQuota = quota;
    resources.cpuPeriod = num(hc.CpuPeriod, 'HostConfig.CpuPeriod') ?? 100_000;
  }
  const shares = num(hc.CpuShares, 'HostConfig.CpuShares');
  if (shares) resources.cpuShares = shares;
  if (typeof hc.PidsLimit === 'number' && hc.PidsLimit > 0) resources.pidsLimit = hc.PidsLimit;
  if (Object.keys(resources).length) opts.resources = resources;

  if (hc.ReadonlyRootfs === true) opts.readonlyRootfs = true;
  if (hc.ConsoleSize !== undefined && hc.ConsoleSize !== null) {
    const cs = hc.ConsoleSize;
    if (!Array.isArray(cs) || cs.length !== 2 || !cs.every((n) => Number.isInteger(n) && n >= 0)) throw badRequest('HostConfig.ConsoleSize must be [height, width]');
    if (cs[0] && cs[1]) opts.consoleSize = { height: cs[0] as number, width: cs[1] as number };
  }
  const security = securityFromHostConfig(hc);
  if (security) opts.security = security;
  refuseUnhandled(hc);

  const rp = obj(hc.RestartPolicy, 'HostConfig.RestartPolicy');
  const rpName = str(rp.Name, 'RestartPolicy.Name');
  if (rpName && rpName !== 'no') {
    if (!['on-failure', 'always', 'unless-stopped'].includes(rpName)) throw badRequest(`invalid restart policy: ${rpName}`);
    if (opts.autoRemove) throw badRequest('can\'t create \'AutoRemove\' container with restart policy');
    opts.restartPolicy = { name: rpName as 'on-failure' | 'always' | 'unless-stopped' };
    if (typeof rp.MaximumRetryCount === 'number' && rp.MaximumRetryCount > 0) opts.restartPolicy.maximumRetryCount = rp.MaximumRetryCount;
  }
  return opts;
}
