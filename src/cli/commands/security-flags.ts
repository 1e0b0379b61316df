/** `tbuild run` security flags (--security-opt, --cap-add, --privileged, --read-only, --tmpfs, ...), Docker's syntax. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { CreateContainerOptions, VolumeMountSpec } from '../../containers/types.js';
import type { SecurityOptions } from '../../exec/security/types.js';
import { applySecurityOpt, parseDevice } from '../../exec/security/host-config.js';
import { normalizeCapability, parseUlimit } from '../../exec/security/apply.js';
import { TbuildError } from '../../errors.js';
import { collect } from '../options.js';
import { parseSize } from './container-flags.js';

export interface SecurityFlags {
  securityOpt: string[];
  capAdd: string[];
  capDrop: string[];
  privileged?: boolean;
  readOnly?: boolean;
  tmpfs: string[];
  device: string[];
  init?: boolean;
  ulimit: string[];
  shmSize?: string;
}

export function addSecurityFlags(cmd: Command): Command {
  return cmd
    .option('--security-opt <opt>', 'seccomp=unconfined|PROFILE.json, no-new-privileges[=true], apparmor=unconfined', collect, [])
    .option('--cap-add <cap>', 'add a Linux capability (NET_ADMIN, CAP_SYS_TIME, ALL)', collect, [])
    .option('--cap-drop <cap>', 'drop a Linux capability (or ALL)', collect, [])
    .option('--privileged', 'all capabilities, host devices, no seccomp, no masked paths')
    .option('--read-only', 'mount the container root filesystem read-only')
    .option('--tmpfs <path[:opts]>', 'mount a tmpfs (e.g. /run:size=64m,mode=755)', collect, [])
    .option('--device <host[:container][:perms]>', 'add a host device', collect, [])
    .option('--init', 'run an init (tini) as pid 1 that forwards signals and reaps zombies')
    .option('--ulimit <name=soft[:hard]>', 'set a ulimit (nofile=1024:2048)', collect, [])
    .option('--shm-size <size>', 'size of /dev/shm (e.g. 256m)');
}

/** `--tmpfs /path[:opts]`. */
export function parseTmpfs(spec: string): VolumeMountSpec {
  const i = spec.indexOf(':');
  const target = i < 0 ? spec : spec.slice(0, i);
  if (!target.startsWith('/')) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid tmpfs mount path: ${target}: must be absolute`);
  const tmpfsOptions = i < 0 ? [] : spec.slice(i + 1).split(',').filter(Boolean);
  return { type: 'tmpfs', source: '', target, readonly: tmpfsOptions.includes('ro'), ...(tmpfsOptions.length ? { tmpfsOptions } : {}) };
}

/**
 * The flags as create options. A `seccomp=FILE` is read here, on the client, and passed on as
 * the profile's text, as the Docker CLI does.
 */
export function securityFromFlags(f: SecurityFlags): Pick<CreateContainerOptions, 'security' | 'readonlyRootfs'> & { tmpfs: VolumeMountSpec[] } {
  const sec: SecurityOptions = {};
  for (const o of f.securityOpt) {
    const m = /^seccomp[=:](.+)$/.exec(o);
    if (m && m[1] !== 'unconfined' && m[1] !== 'builtin' && !m[1]!.trimStart().startsWith('{')) {
      let text: string;
      try {
        text = readFileSync(m[1]!, 'utf8');
      } catch (err) {
        throw new TbuildError('TB_INVALID_ARGUMENT', `opening seccomp profile (${m[1]}) failed: ${(err as Error).message}`);
      }
      applySecurityOpt(sec, `seccomp=${text}`);
    } else {
      applySecurityOpt(sec, o);
    }
  }
  f.capAdd.forEach(normalizeCapability);
  f.capDrop.forEach(normalizeCapability);
  if (f.capAdd.length) sec.capAdd = f.capAdd;
  if (f.capDrop.length) sec.capDrop = f.capDrop;
  if (f.privileged) sec.privileged = true;
  if (f.init) sec.init = true;
  if (f.device.length) sec.devices = f.device.map(parseDevice);
  if (f.ulimit.length) sec.ulimits = f.ulimit.map(parseUlimit);
  if (f.shmSize) sec.shmSize = parseSize(f.shmSize);
  return {
    ...(Object.keys(sec).length ? { security: sec } : {}),
    ...(f.readOnly ? { readonlyRootfs: true } : {}),
    tmpfs: f.tmpfs.map(parseTmpfs),
  };
}
