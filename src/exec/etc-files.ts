import { readFile } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NetworkMode, RunSpec } from './types.js';

let hostResolv: Promise<string> | undefined;

/** The host's resolv.conf minus loopback nameservers, which mean nothing in another netns (as Docker filters). */
function resolvConf(network: NetworkMode): Promise<string> {
  hostResolv ??= readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  return hostResolv.then((text) =>
    network === 'host' ? text : text.split('\n').filter((l) => !/^\s*nameserver\s+(127\.|::1\b)/.test(l)).join('\n'),
  );
}

/** resolv.conf from explicit settings (the network manager's nameserver, `--dns*`). */
export function resolvConfText(dns: NonNullable<RunSpec['dns']>, hostText: string): string {
  const hostLines = hostText.split('\n');
  const servers = dns.servers?.length
    ? dns.servers
    : hostLines.map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1]).filter((x): x is string => !!x && !/^(127\.|::1$)/.test(x));
  const search = dns.search ?? hostLines.map((l) => /^\s*search\s+(.*)$/.exec(l)?.[1]?.trim()).filter(Boolean).slice(-1) as string[];
  const options = dns.options ?? hostLines.map((l) => /^\s*options\s+(.*)$/.exec(l)?.[1]?.trim()).filter(Boolean).slice(-1) as string[];
  // Docker's fallback when the host only has a loopback resolver (systemd-resolved's 127.0.0.53)
  const lines = (servers.length ? servers : ['8.8.8.8', '8.8.4.4']).map((s) => `nameserver ${s}`);
  if (search.length) lines.push(`search ${search.join(' ')}`);
  if (options.length) lines.push(`options ${options.join(' ')}`);
  return lines.join('\n') + '\n';
}

export function hostsFile(hostname: string, extraHosts: string[] = [], address?: string, style: 'docker' | 'buildkit' = 'docker'): string {
  const lines = style === 'buildkit' ? [`127.0.0.1\tlocalhost ${hostname}`, '::1\tlocalhost ip6-localhost ip6-loopback'] : [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
    // Docker's bridge writes the container's own address; without one, Debian's 127.0.1.1 convention
    `${address ?? '127.0.1.1'}\t${hostname}`,
  ];
  for (const e of extraHosts) {
    // Docker's --add-host form is `name:ip`; accept `ip name` too.
    const i = e.lastIndexOf(':');
    if (/\s/.test(e.trim())) lines.push(e.trim().replace(/\s+/, '\t'));
    else if (i > 0) lines.push(`${e.slice(i + 1)}\t${e.slice(0, i)}`);
  }
  return lines.join('\n') + '\n';
}

/** Write hosts, resolv.conf and hostname for one container into `dir`; returns their paths. */
export async function writeEtcFiles(
  dir: string,
  hostname: string,
  spec: Pick<RunSpec, 'network' | 'extraHosts' | 'address' | 'dns' | 'hostsStyle'>,
): Promise<{ hosts: string; resolvConf: string; hostname: string }> {
  const paths = { hosts: join(dir, 'hosts'), resolvConf: join(dir, 'resolv.conf'), hostname: join(dir, 'hostname') };
  const resolv = spec.dns ? resolvConfText(spec.dns, await resolvConf('host')) : await resolvConf(spec.network);
  // Small writes on the start hot path: synchronous is cheaper than three threadpool hops.
  writeFileSync(paths.hosts, hostsFile(hostname, spec.extraHosts, spec.address, spec.hostsStyle));
  writeFileSync(paths.resolvConf, resolv);
  writeFileSync(paths.hostname, hostname + '\n');
  return paths;
}
