import type { Readable, Writable } from 'node:stream';
import type { SecurityHostPaths, SecurityOptions } from './security/types.js';

/** A mount inside the container, beyond the rootfs and the standard /proc, /dev, /sys set. */
export interface ContainerMount {
  /** Absolute path in the container. */
  destination: string;
  type: 'bind' | 'tmpfs';
  /** Host path for binds; ignored for tmpfs. */
  source: string;
  /** e.g. ['rbind', 'ro'], ['size=65536k', 'mode=1777']. */
  options: string[];
}

/**
 * `none`: a fresh namespace with only `lo`; `host`: the host's; `{ netns }`: a namespace already
 * plumbed by the network manager (a bind-mounted namespace file), joined by path.
 */
export type NetworkMode = 'none' | 'host' | { netns: string };

export interface Resources {
  /** Bytes. */
  memory?: number;
  /** Memory plus swap, bytes (-1: unlimited swap); default: the memory limit, so no swap. */
  memorySwap?: number;
  /** CPU shares (relative weight, Docker's --cpu-shares). */
  cpuShares?: number;
  /** --cpus N is quota = N * period. */
  cpuQuota?: number;
  cpuPeriod?: number;
  pidsLimit?: number;
}

export interface ProcessSpec {
  args: string[];
  /** `KEY=value` entries; a default PATH is added when missing. */
  env: string[];
  /** Absolute working directory in the container; created if missing. */
  cwd: string;
  /** As written in USER / -u: `name`, `uid`, `name:group`, `uid:gid`; '' means root. */
  user: string;
  tty?: boolean;
  /** The terminal's first size (with `tty`); later changes go through `resizeTty`. */
  consoleSize?: TtySize;
}

export interface TtySize {
  height: number;
  width: number;
}

/** Everything needed to run one container. Pure data: `buildOciSpec` turns it into a runtime spec. */
export interface RunSpec {
  /** Host directory where the rootfs is already mounted (the caller owns that mount). */
  rootfs: string;
  process: ProcessSpec;
  mounts: ContainerMount[];
  network: NetworkMode;
  hostname?: string;
  readonlyRootfs?: boolean;
  resources?: Resources;
  /** Extra /etc/hosts entries. */
  extraHosts?: string[];
  /** The container's own address, written beside its hostname in /etc/hosts (Docker's bridge). */
  address?: string;
  /**
   * Whose /etc/hosts: `docker` (a container: hostname on its own line) or `buildkit` (a RUN step:
   * `127.0.0.1 localhost buildkitsandbox`, so `hostname --fqdn` answers `localhost` as there).
   */
  hostsStyle?: 'docker' | 'buildkit';
  /** /etc/resolv.conf contents; default: the host's, minus loopback nameservers. */
  dns?: { servers?: string[]; search?: string[]; options?: string[] };
  /** Seccomp, capabilities, privileged mode, devices, ulimits, init (default: Docker's defaults). */
  security?: SecurityOptions;
  /**
   * A directory whose `hosts`, `resolv.conf` and `hostname` this container mounts instead of its
   * own (`--network container:CTR` shares that container's files, as Docker does).
   */
  etcFilesFrom?: string;
}

export interface ProcessIO {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  /** Told the process's host pid once it runs (an exec: for inspect and resize). */
  started?: (pid: number) => void;
}

export interface ExitStatus {
  exitCode: number;
  /** Set when the process died of a signal (exitCode is then 128+signal, as Docker reports). */
  signal?: string;
  /** True when the memory cgroup killed it. */
  oomKilled?: boolean;
  /** The runtime's message when the command could not be started at all (exit 126/127). */
  error?: string;
}

/** A started container; `wait` resolves once it exits and everything it held is released. */
export interface RunningContainer {
  id: string;
  pid: number;
  wait(): Promise<ExitStatus>;
  kill(signal?: NodeJS.Signals | number): Promise<void>;
  /** Run another process in the container (docker exec). */
  exec(process: ProcessSpec, io: ProcessIO): Promise<ExitStatus>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** ps-like table of processes inside the container. */
  top(): Promise<{ titles: string[]; processes: string[][] }>;
  resize?(rows: number, cols: number): void;
}

/**
 * Runs processes in containers with the configured low-level runtime (runc).
 * Cancelling `signal` kills the container, then releases bundle, cgroup and state.
 */
export interface Executor {
  /** Start and wait: the build path. Resolves with the exit status; throws only on runtime failure. */
  run(id: string, spec: RunSpec, io: ProcessIO, signal?: AbortSignal): Promise<ExitStatus>;
  /** Start and return a handle: the container path (`tbuild run -d`, daemon). */
  start(id: string, spec: RunSpec, io: ProcessIO): Promise<RunningContainer>;
}

/**
 * The low-level runtime as long-lived containers need it beyond `Executor`: state, sweep after a
 * crash, exec into a running container, and its own commands (pause, kill, ps). One runc object
 * serves as both, handed out by the composition root.
 */
export interface ContainerRuntime {
  /** The runtime binary this executor drives. */
  readonly runtime: string;
  /** Host files for security options (the shim makes its own executor with the same). */
  readonly securityPaths?: SecurityHostPaths;
  /** Run `runc <args>` against this executor's state root; resolves with stdout, throws on failure. */
  runtimeCommand(args: string[]): Promise<string>;
  /** `runc state <id>` status, or undefined when runc does not know the container. */
  state(id: string): Promise<{ status: string; pid: number } | undefined>;
  /**
   * Release what crashed processes left: a bundle whose owner process is gone means its `runc run`
   * died with it, so kill and delete that container, its cgroups and the bundle. Returns the ids.
   */
  sweep(): Promise<string[]>;
  /** `runc exec` a process into running container `id` whose rootfs is mounted at `rootfs`. */
  execProcess(id: string, rootfs: string, p: ProcessSpec, io: ProcessIO): Promise<ExitStatus>;
  /** Resize the terminal of a process started with `tty` (its host pid); SIGWINCH reaches it. */
  resizeTty(pid: number, size: TtySize): Promise<void>;
}
