import type { Filters } from '../util/filters.js';
import type { Volumes } from '../volumes/types.js';
import type { WorkerDeps } from '../worker/types.js';
import type { ContainerRuntime } from '../exec/types.js';

export type { Volumes, VolumeRecord } from '../volumes/types.js';
import type { Readable, Writable, Duplex } from 'node:stream';
import type { Resources, TtySize } from '../exec/types.js';
import type { AttachmentInfo, PortMapping } from '../network/types.js';
import type { SecurityOptions } from '../exec/security/types.js';

/**
 * Containers that outlive the call that started them: `tbuild run`, `tbuild ps`, and the daemon.
 * State lives under `<root>/containers/<id>/` (config.json, state.json, json-file log), so a
 * restarted process can reconcile with runc's view and nothing exists only in memory.
 * Field names follow Docker's container-inspect JSON where the daemon hands them out as-is.
 */

export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface VolumeMountSpec {
  type: 'bind' | 'volume' | 'tmpfs';
  /** Host path (bind) or volume name (volume; generated when empty). */
  source: string;
  target: string;
  readonly: boolean;
  /** `--tmpfs PATH:OPTS` mount options (size=, mode=, noexec, ...). */
  tmpfsOptions?: string[];
  /** Bind propagation (default rprivate). */
  propagation?: 'rprivate' | 'private' | 'rshared' | 'shared' | 'rslave' | 'slave';
  /** A volume that stays empty instead of getting a copy of the image's content there. */
  noCopy?: boolean;
  /** `-v /host:/ctr`: a missing host directory is created (Docker's `-v`; `--mount` refuses instead). */
  createSource?: boolean;
  /** Labels of a volume this mount creates. */
  volumeLabels?: Record<string, string>;
}

export interface CreateContainerOptions {
  /** Image reference as the user gave it. */
  image: string;
  /** `--platform` (the API's `?platform=`): the stored image must be this platform, else TB_IMAGE_NOT_FOUND (Docker's 404, after which its CLI pulls that platform). */
  platform?: string;
  name?: string;
  cmd?: string[];
  entrypoint?: string[];
  env?: string[];
  workingDir?: string;
  user?: string;
  tty?: boolean;
  openStdin?: boolean;
  stdinOnce?: boolean;
  labels?: Record<string, string>;
  exposedPorts?: string[];
  hostname?: string;
  /** `default`/`bridge` (the default network), `none`, `host`, or a user network's name or id. */
  network?: string;
  /** Published ports (`-p`); host port 0 means a free one. */
  ports?: PortMapping[];
  /** `-P`: publish every exposed port on a free host port. */
  publishAll?: boolean;
  /** `--network-alias`: extra DNS names on a user network. */
  networkAliases?: string[];
  /** `--ip`: a fixed address on the network. */
  ip?: string;
  /** `--dns`, `--dns-search`, `--dns-option`. */
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  /** `--add-host NAME:IP` (IP may be `host-gateway`). */
  extraHosts?: string[];
  mounts?: VolumeMountSpec[];
  autoRemove?: boolean;
  resources?: Resources;
  restartPolicy?: { name: 'no' | 'on-failure' | 'always' | 'unless-stopped'; maximumRetryCount?: number };
  /** --read-only */
  readonlyRootfs?: boolean;
  /** --security-opt, --cap-add/--cap-drop, --privileged, --device, --init, --ulimit, --shm-size. */
  security?: SecurityOptions;
  /** With `tty`: the terminal's size at start (Docker's HostConfig.ConsoleSize). */
  consoleSize?: TtySize;
  /** `--volumes-from CTR[:ro|:rw]`: that container's bind and volume mounts. */
  volumesFrom?: string[];
  /** `--stop-signal` (over the image's STOPSIGNAL) and `--stop-timeout` (seconds; default 10). */
  stopSignal?: string;
  stopTimeout?: number;
  /** `--health-*` (merged over the image's HEALTHCHECK; `Test: ["NONE"]` is --no-healthcheck). */
  healthcheck?: HealthConfig;
}

/** Docker's `Healthcheck` (durations in ns); `Test: ["NONE"]` switches an image's off. */
export interface HealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** Docker's `State.Health`. */
export interface HealthState {
  Status: 'starting' | 'healthy' | 'unhealthy';
  FailingStreak: number;
  Log: Array<{ Start: string; End: string; ExitCode: number; Output: string }>;
}

export interface MountPoint {
  type: 'bind' | 'volume';
  /** Volume name (volumes only). */
  name?: string;
  /** Host path. */
  source: string;
  destination: string;
  /** Docker's mode string: `ro`, `z` (a named volume), or ''. */
  mode: string;
  rw: boolean;
  propagation: string;
}

export interface ContainerState {
  status: ContainerStatus;
  pid: number;
  exitCode: number;
  oomKilled: boolean;
  error: string;
  startedAt: string;
  finishedAt: string;
  restartCount: number;
}

export interface ContainerRecord {
  id: string;
  name: string;
  /** Reference as given at create. */
  image: string;
  /** Config digest of the image. */
  imageId: string;
  created: string;
  options: CreateContainerOptions;
  /** Effective config: image config merged with the create options. */
  path: string;
  args: string[];
  env: string[];
  workingDir: string;
  user: string;
  state: ContainerState;
  /** Snapshot key of the writable layer. */
  snapshotKey: string;
  logPath: string;
  /** The healthcheck's state while one is configured (Docker's `State.Health`). */
  health?: HealthState;
  /** Bind and volume mounts as resolved at create (volume names and host paths), Docker's `.Mounts`. */
  mountPoints?: MountPoint[];
  /** Where the running container is attached (addresses, published ports); absent when not running. */
  network?: Pick<AttachmentInfo, 'endpoints' | 'ports' | 'netnsPath'>;
}

export interface AttachStreams {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  /** Called when this attachment ends while the container runs on (a tty client's input ended). */
  detached?: () => void;
}

export interface LogOptions {
  follow?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  /** Number of lines from the end, or 'all'. */
  tail?: number | 'all';
  timestamps?: boolean;
  /** Unix seconds. */
  since?: number;
  until?: number;
}

export interface LogEntry {
  stream: 'stdout' | 'stderr';
  /** ISO time with nanoseconds, as json-file writes it. */
  time: string;
  log: string;
}

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

export interface ExecOptions {
  cmd: string[];
  env?: string[];
  workingDir?: string;
  user?: string;
  tty?: boolean;
  attachStdin?: boolean;
  /** With `tty`: the terminal's size at start. */
  consoleSize?: TtySize;
}

export interface ExecProcess {
  /** Host pid (0 where the engine is remote). */
  pid: number;
  resize(size: TtySize): Promise<void>;
}

export type ExecStreams = AttachStreams & { stdio?: Duplex; started?: (p: ExecProcess) => void };

export interface ContainerUpdate {
  resources?: Resources;
  restartPolicy?: CreateContainerOptions['restartPolicy'];
}

/** `docker stats` in Docker's JSON shape (what its CLI and dockerode compute from); see stats.ts. */
export interface CpuStats {
  cpu_usage: { total_usage: number; usage_in_kernelmode: number; usage_in_usermode: number; percpu_usage?: number[] };
  system_cpu_usage: number;
  online_cpus: number;
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
}

export interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

export interface NetworkStats {
  rx_bytes: number;
  rx_packets: number;
  rx_errors: number;
  rx_dropped: number;
  tx_bytes: number;
  tx_packets: number;
  tx_errors: number;
  tx_dropped: number;
}

export interface StatsSample {
  read: string;
  pids_stats: { current?: number; limit?: number };
  blkio_stats: { io_service_bytes_recursive: BlkioEntry[] | null; io_serviced_recursive: BlkioEntry[] | null; io_queue_recursive: null; io_service_time_recursive: null; io_wait_time_recursive: null; io_merged_recursive: null; io_time_recursive: null; sectors_recursive: null };
  num_procs: number;
  storage_stats: Record<string, never>;
  cpu_stats: CpuStats;
  memory_stats: { usage?: number; max_usage?: number; stats?: Record<string, number>; limit?: number; failcnt?: number };
  networks?: Record<string, NetworkStats>;
}

export interface ContainerEvent {
  action: 'create' | 'start' | 'die' | 'destroy' | 'stop' | 'kill' | 'pause' | 'unpause' | 'restart' | 'rename' | 'attach' | 'exec_start' | 'exec_die' | 'health_status: healthy' | 'health_status: unhealthy';
  id: string;
  attributes: Record<string, string>;
}


/** Named volumes (implemented by `VolumeStore` in volumes.ts). */

export interface ContainerManager {
  /** The state root's named volumes (optional so test doubles may leave it out). */
  readonly volumes?: Volumes;
  /** Keep a container monitor started ahead of need, so starts skip its boot (long-lived callers: the daemon). */
  keepWarm?(): void;
  create(opts: CreateContainerOptions): Promise<ContainerRecord>;
  /** Start it; `io` attaches the caller's streams from the first byte (for `run` without -d). */
  start(idOrName: string, io?: AttachStreams): Promise<void>;
  /** Stream a running container's stdio (live output only; history is `logs`). */
  attach(idOrName: string, io: AttachStreams): Promise<void>;
  /** Resolves once `condition` holds; after a `start` with `io`, only once that output was delivered. */
  wait(idOrName: string, condition?: WaitCondition): Promise<{ exitCode: number }>;
  /** The stop signal (`signal`, else the container's StopSignal, else SIGTERM), then SIGKILL after the timeout. */
  stop(idOrName: string, timeoutSeconds?: number, signal?: string): Promise<void>;
  kill(idOrName: string, signal?: string): Promise<void>;
  restart(idOrName: string, timeoutSeconds?: number, signal?: string): Promise<void>;
  pause(idOrName: string): Promise<void>;
  unpause(idOrName: string): Promise<void>;
  remove(idOrName: string, opts?: { force?: boolean; volumes?: boolean }): Promise<void>;
  rename(idOrName: string, newName: string): Promise<void>;
  /** `docker network connect`: also live when the container runs. */
  connectNetwork(idOrName: string, network: string, opts?: { aliases?: string[]; ip?: string }): Promise<void>;
  /** `docker network disconnect`. */
  disconnectNetwork(idOrName: string, network: string): Promise<void>;
  get(idOrName: string): Promise<ContainerRecord | undefined>;
  /** Throws TB_CONTAINER_NOT_FOUND (`No such container: <ref>`). */
  inspect(idOrName: string): Promise<ContainerRecord>;
  list(opts?: { all?: boolean }): Promise<ContainerRecord[]>;
  logs(idOrName: string, opts: LogOptions): AsyncIterable<LogEntry>;
  top(idOrName: string, psArgs?: string): Promise<{ titles: string[]; processes: string[][] }>;
  /** `docker diff`: kind 0 modified, 1 added, 2 deleted. */
  changes(idOrName: string): Promise<Array<{ Path: string; Kind: 0 | 1 | 2 }>>;
  /** Tar of the merged filesystem. */
  export(idOrName: string): Promise<Readable>;
  /** `docker cp` out: a tar of `path` and its stat. Confined to the container root. */
  getArchive(idOrName: string, path: string): Promise<{ tar: Readable; stat: { name: string; size: number; mode: number; mtime: string; linkTarget: string } }>;
  /** `docker cp` in: extract `tar` under `path`. Confined to the container root. */
  /** `noOverwriteDirNonDir`: refuse to replace a directory with a non-directory or the reverse (as `docker cp` asks). */
  putArchive(idOrName: string, path: string, tar: Readable, opts?: { noOverwriteDirNonDir?: boolean }): Promise<void>;
  /** `started` is handed the exec'd process once it runs (its pid, and its terminal's resize). */
  exec(idOrName: string, opts: ExecOptions, io: ExecStreams): Promise<{ exitCode: number }>;
  /** Resize the terminal of a container created with a tty; SIGWINCH reaches its process. */
  resize(idOrName: string, size: TtySize): Promise<void>;
  /** Remove the stopped containers the filters keep (Docker's `until`, `label`, `label!`; none: every stopped one). */
  prune(filters?: Filters): Promise<{ deleted: string[]; spaceReclaimed: number }>;
  /** One sample of the container's counters (zeroes when it is not running). */
  stats(idOrName: string): Promise<StatsSample>;
  /** `docker update`: new limits (applied to the running container's cgroup) and restart policy. */
  update(idOrName: string, changes: ContainerUpdate): Promise<void>;
  on(event: 'event', listener: (e: ContainerEvent) => void): void;
  close(): Promise<void>;
}

/** What the container manager is given by the composition root. */
export interface ContainerDeps extends WorkerDeps {
  /** The same runtime object as `executor`, seen through its container-lifecycle side. */
  runtime: ContainerRuntime;
  volumes: Volumes;
}

/** What `commit` needs: the stores, and the container manager to find (and pause) the container. */
export interface CommitDeps extends WorkerDeps {
  containers: ContainerManager;
}
