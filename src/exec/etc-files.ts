import { readFile } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NetworkMode } from './types.js';

let hostResolv: Promise<string> | undefined;

/** The host's resolv.conf minus loopback nameservers, which mean nothing in another netns (as Docker filters). */
function resolvConf(network: NetworkMode): Promise<string> {
  hostResolv ??= readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  return hostResolv.then((text) =>
    network === 'host' ? text : text.split('\n').filter((l) => !/^\s*nameserver\s+(127\.|::1\b)/.test(l)).join('\n'),
  );
}

export function hostsFile(hostname: string, extraHosts: string[] = []): string {
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
    `127.0.1.1\t${hostname}`,
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
  network: NetworkMode,
  extraHosts?: string[],
): Promise<{ hosts: string; resolvConf: string; hostname: string }> {
  const paths = { hosts: join(dir, 'hosts'), resolvConf: join(dir, 'resolv.conf'), hostname: join(dir, 'hostname') };
  const resolv = await resolvConf(network);
  // Small writes on the start hot path: synchronous is cheaper than three threadpool hops.
  writeFileSync(paths.hosts, hostsFile(hostname, extraHosts));
  writeFileSync(paths.resolvConf, resolv);
  writeFileSync(paths.hostname, hostname + '\n');
  return paths;
}
