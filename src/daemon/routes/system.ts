import os from 'node:os';
import type { Router } from '../router.js';
import type { DaemonServices } from '../types.js';
import { sendJson } from '../http.js';
import { MAX_API_VERSION, MIN_API_VERSION, SERVER_VERSION, compareVersions } from '../../api/wire/version.js';
import { cgroupVersion, goArch, machineArch, operatingSystem } from '../host-info.js';
import { digestHex, sha256 } from '../../util/digest.js';

export function registerSystemRoutes(router: Router, svc: DaemonServices): void {
  const ping = async (ctx: Parameters<Parameters<Router['add']>[2]>[0]) => {
    const res = ctx.res;
    res.setHeader('Builder-Version', '1');
    res.setHeader('Cache-Control', 'no-cache, no-store, must-revalidate');
    res.setHeader('Pragma', 'no-cache');
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': '2' });
    res.end(ctx.method === 'HEAD' ? undefined : 'OK');
  };
  router.add('GET', '/_ping', ping);
  router.add('HEAD', '/_ping', ping);

  router.add('GET', '/version', async (ctx) => {
    const details = {
      ApiVersion: MAX_API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      Arch: goArch(),
      Os: 'linux',
      KernelVersion: os.release(),
      GitCommit: 'tbuild',
      GoVersion: `node${process.versions.node}`,
      BuildTime: '',
      Experimental: 'false',
    };
    sendJson(ctx.res, 200, {
      Platform: { Name: 'tbuild' },
      Components: [{ Name: 'Engine', Version: SERVER_VERSION, Details: details }],
      Version: SERVER_VERSION,
      ApiVersion: MAX_API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: 'tbuild',
      GoVersion: `node${process.versions.node}`,
      Os: 'linux',
      Arch: goArch(),
      KernelVersion: os.release(),
      BuildTime: '',
    });
  });

  router.add('GET', '/info', async (ctx) => {
    const [containers, images] = await Promise.all([svc.engine.containers.list({ all: true }), svc.engine.images.list()]);
    const count = (s: string) => containers.filter((c) => c.state.status === s).length;
    const running = count('running') + count('restarting');
    const paused = count('paused');
    sendJson(ctx.res, 200, {
      ID: digestHex(sha256(svc.engine.root)).slice(0, 32).toUpperCase(),
      Containers: containers.length,
      ContainersRunning: running,
      ContainersPaused: paused,
      ContainersStopped: containers.length - running - paused,
      Images: images.length,
      Driver: 'overlay2',
      DriverStatus: [['Backing Filesystem', 'extfs']],
      Plugins: { Volume: ['local'], Network: ['host', 'none'], Authorization: null, Log: ['json-file'] },
      MemoryLimit: true,
      SwapLimit: false,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      CPUShares: true,
      CPUSet: false,
      PidsLimit: true,
      IPv4Forwarding: false,
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
      RegistryConfig: { IndexConfigs: {}, InsecureRegistryCIDRs: [], Mirrors: [] },
      NCPU: os.cpus().length,
      MemTotal: os.totalmem(),
      GenericResources: null,
      DockerRootDir: svc.engine.root,
      HttpProxy: '',
      HttpsProxy: '',
      NoProxy: '',
      Name: svc.name ?? os.hostname(),
      Labels: [],
      ExperimentalBuild: false,
      ServerVersion: SERVER_VERSION,
      Runtimes: { runc: { path: 'runc' } },
      DefaultRuntime: 'runc',
      Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
      LiveRestoreEnabled: false,
      Isolation: '',
      InitBinary: '',
      ContainerdCommit: { ID: '' },
      RuncCommit: { ID: '' },
      InitCommit: { ID: '' },
      SecurityOptions: ['name=seccomp,profile=builtin'],
      Warnings: [],
    });
  });

  router.add('GET', '/system/df', async (ctx) => {
    // Computed by the engine, the same way the embedded CLI's `df` computes it.
    const df = await svc.engine.df();
    const old = compareVersions(ctx.apiVersion, '1.44') < 0;
    sendJson(ctx.res, 200, old ? { ...df, Images: df.Images.map((i) => ({ ...i, VirtualSize: i.Size })) } : df);
  });

}
