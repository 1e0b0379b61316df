import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { TbuildError } from '../errors.js';
import type { RunSpec } from './types.js';
import { buildOciSpec, type HostRlimits, type SpecContext } from './spec.js';
import { resolveUser } from './user.js';
import { cgroupInfo, prepareOomParent, removeCgroup } from './cgroups.js';
import { writeEtcFiles } from './etc-files.js';
import { findMissing } from './stubs.js';
import { applySecurity, specJson, withSecurityMounts } from './security/apply.js';
import { securityHost, type SecurityHostPaths } from './security/host.js';
import { hostPlatform } from './security/seccomp.js';
import { probeIa32 } from '../util/ia32.js';

/**
 * Bundle preparation for the runc executor: everything written to disk (and the cgroup made)
 * before `runc run` starts. The process side (spawn, wait, kill, clean up) is in runc.ts.
 */

/** runc's own id rule; anything else would also be unsafe as a path component. */
export const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$/;
export const CGROUP_PARENT = '/tbuild';

/** Container stubs whose absence runc fills in at start (see stubs.ts). */
const STANDARD_DESTINATIONS = ['/proc', '/dev', '/sys', '/etc/hosts', '/etc/resolv.conf', '/etc/hostname'];

export interface PreparedBundle {
  bundle: string;
  ctx: SpecContext;
  cgroupPath: string;
  /** Set when a parent cgroup was made so the OOM counter survives runc's cleanup. */
  oomParent?: string;
  /** Mount destinations the container's process may see... */
  destinations: string[];
  /** ...and those of them that runc will create as stubs in the rootfs (removed after the run). */
  missing: string[];
}

/** Another container's etc files; it must still have them (they go when it stops). */
function sharedEtcFiles(dir: string): SpecContext['etcFiles'] {
  const paths = { hosts: join(dir, 'hosts'), resolvConf: join(dir, 'resolv.conf'), hostname: join(dir, 'hostname') };
  for (const p of Object.values(paths)) {
    if (!existsSync(p)) throw new TbuildError('TB_CONTAINER_STATE', `the container whose network is joined no longer has ${p}: is it still running?`);
  }
  return paths;
}

/**
 * Write `<root>/exec/<id>/` (config.json, owner, etc files) for `spec`. On failure nothing is
 * left behind: the bundle and any OOM parent cgroup are removed before the error is rethrown.
 */
export async function prepareBundle(
  root: string,
  id: string,
  specIn: RunSpec,
  opts: { rlimits: () => HostRlimits; owner: string; security?: SecurityHostPaths },
): Promise<PreparedBundle> {
  if (!ID_RE.test(id)) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid container id ${JSON.stringify(id)}`);
  // whether 32-bit x86 code runs decides the seccomp filter's architectures; learnt once, while
  // the rest of the bundle is made
  const ia32 = probeIa32();
  const host = securityHost(specIn.security, opts.security);
  const spec = withSecurityMounts(specIn, host.initPath);
  const bundle = join(root, 'exec', id);
  const user = await resolveUser(spec.rootfs, spec.process.user);
  mkdirSync(bundle, { recursive: true, mode: 0o700 });
  const hostname = spec.hostname ?? id.slice(0, 12);
  const info = cgroupInfo();
  // The OOM counter lives in the memory cgroup, which runc removes on exit: nest the container
  // one level down so the parent keeps the (hierarchical) count until we read it.
  const oomParent = spec.resources?.memory ? `${CGROUP_PARENT}/${id}` : undefined;
  const cgroupPath = oomParent ? `${oomParent}/ctr` : `${CGROUP_PARENT}/${id}`;
  const hostRlimits = opts.rlimits();
  // The working directory is not a stub: like Docker and BuildKit, a created cwd stays.
  const destinations = [...STANDARD_DESTINATIONS, ...spec.mounts.map((m) => m.destination)];
  try {
    const ctx: SpecContext = {
      user,
      hostRlimits,
      cgroupsPath: cgroupPath,
      etcFiles: spec.etcFilesFrom ? sharedEtcFiles(spec.etcFilesFrom) : await writeEtcFiles(bundle, hostname, spec),
      defaultHostname: hostname,
      swapAccounting: info.swapAccounting,
    };
    await ia32;
    const oci = applySecurity(buildOciSpec(spec, ctx), spec.security, { ...host, platform: hostPlatform() });
    if (oomParent) await prepareOomParent(oomParent, spec.resources!.memory!);
    const missing = findMissing(spec.rootfs, destinations);
    writeFileSync(join(bundle, 'config.json'), specJson(oci));
    writeFileSync(join(bundle, 'owner'), opts.owner);
    return { bundle, ctx, cgroupPath, ...(oomParent ? { oomParent } : {}), destinations, missing };
  } catch (err) {
    if (oomParent) await removeCgroup(oomParent, ['ctr']).catch(() => {});
    await rm(bundle, { recursive: true, force: true });
    throw err;
  }
}

