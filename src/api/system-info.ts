/**
 * `docker info` for one engine: Docker's `/info` fields, computed from the state root and the
 * host, plus what only tbuild has (network backend, volume and build-cache totals, and where
 * each setting came from). The embedded CLI and the daemon's `GET /info` return the same object.
 */
import { execFile } from 'node:child_process';
import { statfs } from 'node:fs/promises';
import os from 'node:os';
import { promisify } from 'node:util';
import { cgroupVersion, machineArch, operatingSystem } from '../util/host-info.js';
import { digestHex, sha256 } from '../util/digest.js';
import { TBUILD_VERSION } from '../defaults.js';

export interface SystemInfoInputs {
  root: string;
  runtime: string;
  containers: Array<{ state: { status: string } }>;
  images: number;
  volumes: number;
  buildCacheBytes: number;
  seccompProfile?: string;
  insecureRegistries: string[];
  mirrors: string[];
  networkBackend?: string;
  /** Setting name → `flag`, `env NAME`, `file PATH` or `default`. */
  settings: Record<string, string>;
  configFile?: string;
}

/** statfs magic numbers of the filesystems a state root is likely to sit on. */
const FILESYSTEMS: Record<number, string> = {
  0xef53: 'extfs',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x01021994: 'tmpfs',
  0x794c7630: 'overlayfs',
  0x6969: 'nfs',
  0x2fc12fc1: 'zfs',
  0xf2f52010: 'f2fs',
};

async function backingFilesystem(root: string): Promise<string> {
  try {
    const s = await statfs(root);
    return FILESYSTEMS[s.type] ?? `0x${s.type.toString(16)}`;
  } catch {
    return 'unknown';
  }
}

let runcVersion: Promise<{ version: string; commit: string }> | undefined;
function runtimeVersion(runtime: string): Promise<{ version: string; commit: string }> {
  runcVersion ??= promisify(execFile)(runtime, ['--version'], { timeout: 5000 })
    .then(({ stdout }) => ({
      version: /version (\S+)/.exec(stdout)?.[1] ?? 'unknown',
      commit: /commit: (\S+)/.exec(stdout)?.[1] ?? '',
    }))
    .catch(() => ({ version: 'unavailable', commit: '' }));
  return runcVersion;
}

export async function systemInfo(i: SystemInfoInputs): Promise<Record<string, unknown>> {
  const count = (s: string) => i.containers.filter((c) => c.state.status === s).length;
  const running = count('running') + count('restarting');
  const paused = count('paused');
  const runc = await runtimeVersion(i.runtime);
  const seccomp = i.seccompProfile === 'unconfined' ? undefined : `name=seccomp,profile=${i.seccompProfile ?? 'builtin'}`;
  const insecure = ['127.0.0.0/8', ...i.insecureRegistries];
  const warnings: string[] = [];
  if (i.seccompProfile === 'unconfined') warnings.push('WARNING: seccomp is off for every container and RUN step (seccomp-profile unconfined)');
  if (!i.networkBackend) warnings.push('WARNING: no network backend: containers and RUN steps have no network but their own loopback');
  return {
    ID: digestHex(sha256(i.root)).slice(0, 32).toUpperCase(),
    Containers: i.containers.length,
    ContainersRunning: running,
    ContainersPaused: paused,
    ContainersStopped: i.containers.length - running - paused,
    Images: i.images,
    Driver: 'overlay2',
    DriverStatus: [['Backing Filesystem', await backingFilesystem(i.root)]],
    Plugins: { Volume: ['local'], Network: i.networkBackend ? ['bridge', 'host', 'none'] : ['host', 'none'], Authorization: null, Log: ['json-file'] },
    MemoryLimit: true,
    SwapLimit: cgroupVersion() === '2',
    CpuCfsPeriod: true,
    CpuCfsQuota: true,
    CPUShares: true,
    CPUSet: true,
    PidsLimit: true,
    IPv4Forwarding: Boolean(i.networkBackend),
    Debug: false,
    NFd: 0,
    OomKillDisable: false,
    NGoroutines: 0,
    SystemTime: new Date().toISOString(),
    LoggingDriver: 'json-file',
    CgroupDriver: 'cgroupfs',
    CgroupVersion: cgroupVersion(),
    NEventsListener: 0,
    KernelVersion: os.release(),
    OperatingSystem: operatingSystem(),
    OSVersion: '',
    OSType: 'linux',
    Architecture: machineArch(),
    IndexServerAddress: 'https://index.docker.io/v1/',
    RegistryConfig: {
      // the Docker CLI lists a host's insecure registries from here (and the CIDRs below)
      IndexConfigs: Object.fromEntries([
        ['docker.io', { Name: 'docker.io', Mirrors: i.mirrors, Secure: true, Official: true }],
        ...insecure.filter((r) => !/\/\d+$/.test(r)).map((r) => [r, { Name: r, Mirrors: [], Secure: false, Official: false }]),
      ]),
      InsecureRegistryCIDRs: insecure.filter((r) => /\/\d+$/.test(r)),
      InsecureRegistries: insecure.filter((r) => !/\/\d+$/.test(r)),
      Mirrors: i.mirrors,
    },
    NCPU: os.cpus().length,
    MemTotal: os.totalmem(),
    GenericResources: null,
    DockerRootDir: i.root,
    HttpProxy: process.env.HTTP_PROXY ?? process.env.http_proxy ?? '',
    HttpsProxy: process.env.HTTPS_PROXY ?? process.env.https_proxy ?? '',
    NoProxy: process.env.NO_PROXY ?? process.env.no_proxy ?? '',
    Name: os.hostname(),
    Labels: [],
    ExperimentalBuild: false,
    ServerVersion: TBUILD_VERSION,
    Runtimes: { runc: { path: i.runtime } },
    DefaultRuntime: 'runc',
    Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
    LiveRestoreEnabled: false,
    Isolation: '',
    InitBinary: '',
    ContainerdCommit: { ID: '' },
    RuncCommit: { ID: runc.commit || runc.version },
    InitCommit: { ID: '' },
    SecurityOptions: seccomp ? [seccomp] : [],
    Warnings: warnings,
    // tbuild's own
    RuncVersion: runc.version,
    NetworkBackend: i.networkBackend ?? 'none',
    Volumes: i.volumes,
    BuildCacheSize: i.buildCacheBytes,
    ConfigFile: i.configFile ?? '',
    Settings: i.settings,
  };
}

/**
 * Docker's `GET /version` body, with the runtime as a component (as dockerd lists containerd and
 * runc) and tbuild's own version beside the Docker-compatible engine version clients check.
 */
export async function versionBody(runtime: string): Promise<Record<string, unknown>> {
  const [{ MAX_API_VERSION, MIN_API_VERSION, SERVER_VERSION }, { TBUILD_VERSION }, { goArch }, os] = await Promise.all([
    import('./wire/version.js'),
    import('../defaults.js'),
    import('../util/host-info.js'),
    import('node:os'),
  ]);
  const runc = await runtimeVersion(runtime);
  const common = { ApiVersion: MAX_API_VERSION, MinAPIVersion: MIN_API_VERSION, Os: 'linux', Arch: goArch(), KernelVersion: os.release(), GitCommit: 'tbuild', GoVersion: `node${process.versions.node}`, BuildTime: '' };
  return {
    Platform: { Name: 'tbuild' },
    Components: [
      { Name: 'Engine', Version: SERVER_VERSION, Details: { ...common, Experimental: 'false' } },
      { Name: 'tbuild', Version: TBUILD_VERSION, Details: { NodeVersion: process.version } },
      { Name: 'runc', Version: runc.version, Details: { GitCommit: runc.commit } },
    ],
    Version: SERVER_VERSION,
    ...common,
  };
}
