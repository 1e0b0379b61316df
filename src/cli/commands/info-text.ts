/** `tbuild info`'s text, laid out as `docker info` prints it, with tbuild's own lines added. */
import { TBUILD_VERSION } from '../../defaults.js';
import { humanSize } from './images-format.js';

function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(2)}GiB`;
}

export function renderInfo(i: Record<string, unknown>, client: { where: string; config?: { file: string; fromEnv: boolean; keys: string[] } }): string {
  const lines: string[] = [];
  const add = (indent: number, key: string, value?: unknown) =>
    lines.push(`${' '.repeat(indent)}${key}:${value === undefined ? '' : ` ${String(value)}`}`);
  add(0, 'Client');
  add(1, 'Version', TBUILD_VERSION);
  add(1, 'Context', client.where);
  // the Docker CLI's config file: the settings the CLI took from it ($DOCKER_CONFIG or ~/.docker)
  if (client.config) add(1, 'Client Config', `${client.config.file}${client.config.fromEnv ? ' ($DOCKER_CONFIG)' : ''}${client.config.keys.length ? ` (${client.config.keys.join(', ')})` : ''}`);
  lines.push('');
  add(0, 'Server');
  add(1, 'Containers', i.Containers);
  add(2, 'Running', i.ContainersRunning);
  add(2, 'Paused', i.ContainersPaused);
  add(2, 'Stopped', i.ContainersStopped);
  add(1, 'Images', i.Images);
  add(1, 'Volumes', i.Volumes);
  add(1, 'Build Cache', humanSize(Number(i.BuildCacheSize ?? 0)));
  add(1, 'Server Version', i.ServerVersion);
  add(1, 'Storage Driver', i.Driver);
  for (const [k, v] of (i.DriverStatus as string[][] | undefined) ?? []) add(2, k!, v);
  add(1, 'Logging Driver', i.LoggingDriver);
  add(1, 'Cgroup Driver', i.CgroupDriver);
  add(1, 'Cgroup Version', i.CgroupVersion);
  add(1, 'Network Backend', i.NetworkBackend);
  add(1, 'Runtimes', Object.keys((i.Runtimes as object | undefined) ?? {}).join(' '));
  add(1, 'Default Runtime', i.DefaultRuntime);
  add(1, 'runc version', i.RuncVersion);
  const security = (i.SecurityOptions as string[] | undefined) ?? [];
  add(1, 'Security Options', security.length ? undefined : 'none');
  for (const opt of security) {
    const fields = Object.fromEntries(opt.split(',').map((kv) => kv.split('=') as [string, string]));
    lines.push(`  ${fields.name ?? opt}`);
    if (fields.profile) add(3, 'Profile', fields.profile);
  }
  add(1, 'Kernel Version', i.KernelVersion);
  add(1, 'Operating System', i.OperatingSystem);
  add(1, 'OSType', i.OSType);
  add(1, 'Architecture', i.Architecture);
  add(1, 'CPUs', i.NCPU);
  add(1, 'Total Memory', gib(Number(i.MemTotal ?? 0)));
  add(1, 'Name', i.Name);
  add(1, 'ID', i.ID);
  add(1, 'Docker Root Dir', i.DockerRootDir);
  const reg = (i.RegistryConfig ?? {}) as { InsecureRegistryCIDRs?: string[]; InsecureRegistries?: string[]; Mirrors?: string[] };
  const insecure = [...(reg.InsecureRegistries ?? []), ...(reg.InsecureRegistryCIDRs ?? [])];
  if (insecure.length) {
    add(1, 'Insecure Registries');
    for (const r of insecure) lines.push(`  ${r}`);
  }
  if (reg.Mirrors?.length) {
    add(1, 'Registry Mirrors');
    for (const m of reg.Mirrors) lines.push(`  ${m}`);
  }
  add(1, 'Settings File', i.ConfigFile || 'none');
  const settings = Object.entries((i.Settings ?? {}) as Record<string, string>);
  if (settings.length) {
    add(1, 'Settings From');
    for (const [k, src] of settings.sort(([a], [b]) => a.localeCompare(b))) add(2, k, src);
  }
  let out = lines.join('\n') + '\n';
  for (const w of (i.Warnings as string[] | undefined) ?? []) out += `${w}\n`;
  return out;
}
