import { TbuildError } from '../../errors.js';
import { normalizeCapability, parseUlimit } from './apply.js';
import type { DeviceMapping, SeccompChoice, SecurityOptions, Ulimit } from './types.js';

/**
 * The Docker spellings of security options, shared by `tbuild run`, the remote CLI, the daemon
 * and inspect: `--security-opt` strings, `--device` specs, and the HostConfig fields
 * (SecurityOpt, CapAdd, CapDrop, Privileged, Devices, Init, Ulimits, ShmSize).
 */

type Json = Record<string, unknown>;

function unsupported(msg: string): TbuildError {
  return new TbuildError('TB_SECURITY_OPT_UNSUPPORTED', msg);
}

/**
 * Apply one `--security-opt` (as sent over the API: a seccomp profile arrives as its JSON text)
 * to `sec`. Docker accepts both `key=value` and the older `key:value`.
 */
export function applySecurityOpt(sec: SecurityOptions, opt: string): void {
  if (opt === 'no-new-privileges') {
    sec.noNewPrivileges = true;
    return;
  }
  const m = /^([a-z-]+)[=:]([\s\S]*)$/.exec(opt);
  if (!m) throw unsupported(`invalid --security-opt: ${JSON.stringify(opt)}`);
  const [, key, value] = m as unknown as [string, string, string];
  switch (key) {
    case 'no-new-privileges':
      if (value !== 'true' && value !== 'false') throw unsupported(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
      sec.noNewPrivileges = value === 'true';
      return;
    case 'seccomp':
      sec.seccomp = seccompChoice(value);
      return;
    case 'apparmor':
      // tbuild applies no AppArmor profile at all, which is what `unconfined` asks for.
      if (value === 'unconfined') return;
      throw unsupported(`--security-opt apparmor=${value}: AppArmor profiles are not supported (only apparmor=unconfined)`);
    case 'label':
      throw unsupported(`--security-opt label=${value}: SELinux labels are not supported`);
    default:
      throw unsupported(`--security-opt ${key}: not supported (supported: seccomp, no-new-privileges, apparmor=unconfined)`);
  }
}

function seccompChoice(value: string): SeccompChoice {
  if (value === 'unconfined') return { mode: 'unconfined' };
  if (value === 'builtin' || value === '') return { mode: 'default' };
  if (!value.trimStart().startsWith('{')) {
    throw unsupported(`--security-opt seccomp=${value}: expected "unconfined", "builtin" or a profile's JSON (the CLI reads PROFILE.json)`);
  }
  return { mode: 'custom', profile: value };
}

/** The SecurityOpt strings inspect reports for `sec`. */
export function securityOptStrings(sec: SecurityOptions | undefined): string[] {
  const out: string[] = [];
  if (sec?.seccomp?.mode === 'unconfined') out.push('seccomp=unconfined');
  else if (sec?.seccomp?.mode === 'custom') out.push(`seccomp=${sec.seccomp.profile}`);
  if (sec?.noNewPrivileges) out.push('no-new-privileges=true');
  return out;
}

/** `--device HOST[:CONTAINER][:PERMS]`. */
export function parseDevice(spec: string): DeviceMapping {
  const parts = spec.split(':');
  if (parts.length > 3 || !parts[0]) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid device specification: ${spec}`);
  const host = parts[0];
  let dst = host;
  let perms = 'rwm';
  if (parts.length === 2) {
    if (/^[rwm]+$/.test(parts[1]!)) perms = parts[1]!;
    else dst = parts[1]!;
  } else if (parts.length === 3) {
    dst = parts[1]!;
    perms = parts[2]!;
  }
  if (!/^[rwm]+$/.test(perms)) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid device mode: ${perms}`);
  if (!dst.startsWith('/')) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid device specification: ${spec}: container path must be absolute`);
  return { pathOnHost: host, pathInContainer: dst, permissions: perms };
}

function list(v: unknown, field: string): string[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw new TbuildError('TB_API_BAD_REQUEST', `${field} must be an array of strings`);
}

/** HostConfig's security fields → SecurityOptions (undefined when all are at their defaults). */
export function securityFromHostConfig(hc: Json): SecurityOptions | undefined {
  const sec: SecurityOptions = {};
  for (const o of list(hc.SecurityOpt, 'HostConfig.SecurityOpt')) applySecurityOpt(sec, o);
  const add = list(hc.CapAdd, 'HostConfig.CapAdd');
  const drop = list(hc.CapDrop, 'HostConfig.CapDrop');
  // Validate now so a bad name fails the create, not the start.
  add.forEach(normalizeCapability);
  drop.forEach(normalizeCapability);
  if (add.length) sec.capAdd = add;
  if (drop.length) sec.capDrop = drop;
  if (hc.Privileged === true) sec.privileged = true;
  if (hc.Init === true) sec.init = true;
  if (hc.Devices !== undefined && hc.Devices !== null) {
    if (!Array.isArray(hc.Devices)) throw new TbuildError('TB_API_BAD_REQUEST', 'HostConfig.Devices must be an array');
    const devices = (hc.Devices as Json[]).map((d) => {
      const host = typeof d.PathOnHost === 'string' ? d.PathOnHost : '';
      if (!host) throw new TbuildError('TB_API_BAD_REQUEST', 'HostConfig.Devices[].PathOnHost is required');
      const dst = typeof d.PathInContainer === 'string' && d.PathInContainer ? d.PathInContainer : host;
      const perms = typeof d.CgroupPermissions === 'string' && d.CgroupPermissions ? d.CgroupPermissions : 'rwm';
      return parseDevice(`${host}:${dst}:${perms}`);
    });
    if (devices.length) sec.devices = devices;
  }
  if (hc.Ulimits !== undefined && hc.Ulimits !== null) {
    if (!Array.isArray(hc.Ulimits)) throw new TbuildError('TB_API_BAD_REQUEST', 'HostConfig.Ulimits must be an array');
    const ulimits: Ulimit[] = (hc.Ulimits as Json[]).map((u) => parseUlimit(`${String(u.Name)}=${Number(u.Soft)}:${Number(u.Hard)}`));
    if (ulimits.length) sec.ulimits = ulimits;
  }
  if (hc.ShmSize !== undefined && hc.ShmSize !== null && hc.ShmSize !== 0) {
    if (typeof hc.ShmSize !== 'number' || !Number.isInteger(hc.ShmSize) || hc.ShmSize < 0) {
      throw new TbuildError('TB_API_BAD_REQUEST', 'HostConfig.ShmSize must be a non-negative integer');
    }
    sec.shmSize = hc.ShmSize;
  }
  return Object.keys(sec).length ? sec : undefined;
}

/** SecurityOptions → HostConfig fields (for the remote CLI's create body and for inspect). */
export function securityToHostConfig(sec: SecurityOptions | undefined): Json {
  return {
    Privileged: Boolean(sec?.privileged),
    SecurityOpt: securityOptStrings(sec).length ? securityOptStrings(sec) : null,
    CapAdd: sec?.capAdd?.length ? sec.capAdd : null,
    CapDrop: sec?.capDrop?.length ? sec.capDrop : null,
    Devices: (sec?.devices ?? []).map((d) => ({ PathOnHost: d.pathOnHost, PathInContainer: d.pathInContainer, CgroupPermissions: d.permissions })),
    Init: sec?.init ? true : null,
    Ulimits: (sec?.ulimits ?? []).map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard })),
    ShmSize: sec?.shmSize ?? 67108864,
  };
}
