/**
 * Security settings of one container or RUN step, Docker's way: a default seccomp profile, the
 * default capability set adjusted by --cap-add/--cap-drop, --privileged, no-new-privileges,
 * devices, ulimits and --init. Pure data carried in `RunSpec.security`; the exec layer turns it
 * into the runtime spec (see apply.ts) and loads seccomp profiles from disk when the bundle is made.
 */

/** Where the containers-common package installs the maintained profile we start from. */
export const DEFAULT_SECCOMP_PROFILE_PATH = '/usr/share/containers/seccomp.json';

/** Where `--init` finds its init (Debian's `tini` package ships a static build). */
export const DEFAULT_INIT_PATH = '/usr/bin/tini-static';

export type SeccompChoice =
  /** The built-in profile (containers-common's, tightened to Docker's default for unprivileged use). */
  | { mode: 'default' }
  | { mode: 'unconfined' }
  /** A profile in Docker/containers-common JSON format, given as its text. */
  | { mode: 'custom'; profile: string };

export interface DeviceMapping {
  /** Host device node (resolved through symlinks when the bundle is made). */
  pathOnHost: string;
  pathInContainer: string;
  /** Any of r, w, m. */
  permissions: string;
}

export interface Ulimit {
  /** As Docker names it: nofile, nproc, core, memlock, stack, ... */
  name: string;
  soft: number;
  hard: number;
}

export interface SecurityOptions {
  /** Default: the built-in profile (unconfined when privileged). */
  seccomp?: SeccompChoice;
  /** Docker's default is off. */
  noNewPrivileges?: boolean;
  /** Capability names, canonical (`CAP_NET_ADMIN`) or `ALL`. */
  capAdd?: string[];
  capDrop?: string[];
  /** All capabilities, every host device, no seccomp, no masked or read-only /proc paths. */
  privileged?: boolean;
  devices?: DeviceMapping[];
  ulimits?: Ulimit[];
  /** Run an init (tini) as pid 1 that reaps zombies and forwards signals. */
  init?: boolean;
  /** Size of /dev/shm in bytes (default 64 MiB). */
  shmSize?: number;
}

/** Host files the security options use; defaults above. */
export interface SecurityHostPaths {
  /** The default profile's file, or `unconfined` for no default profile (dockerd's --seccomp-profile). */
  seccompProfile?: string;
  init?: string;
}

/** The names a Docker client may send in `--security-opt` that we carry out. */
export type SecurityOptName = 'seccomp' | 'no-new-privileges' | 'apparmor';
