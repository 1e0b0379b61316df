import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TbuildError } from '../errors.js';
import { resolvConfText } from '../exec/etc-files.js';
import type { NetworkManager } from '../network/types.js';
import { writeConfig, type StoredConfig } from './store.js';

/**
 * `docker network connect|disconnect`: the container's stored config says which networks its
 * shim attaches at each start; a running container is also changed live through the network
 * manager (netavark adds or removes the interface in its namespace).
 */
export async function connectContainer(
  root: string,
  networks: NetworkManager | undefined,
  c: StoredConfig,
  running: boolean,
  network: string,
  opts: { aliases?: string[]; ip?: string },
): Promise<void> {
  if (!networks) throw new TbuildError('TB_NETWORK_BACKEND_MISSING', 'this engine has no network manager');
  const net = await networks.inspect(network);
  const attach = c.runtime.attach;
  if (!attach) throw new TbuildError('TB_INVALID_ARGUMENT', `container cannot be connected to network ${net.name}: it uses network mode ${c.options.network}`);
  const on = await Promise.all(attach.networks.map((e) => networks.inspect(e.network).catch(() => undefined)));
  if (on.some((n) => n?.id === net.id)) throw new TbuildError('TB_NETWORK_EXISTS', `endpoint with name ${c.name} already exists in network ${net.name}`);
  if (net.builtin && opts.aliases?.length) throw new TbuildError('TB_INVALID_ARGUMENT', 'network-scoped aliases are only supported for user-defined networks');
  const endpoint = { network: net.id, aliases: net.builtin ? [] : [...(opts.aliases ?? []), c.id.slice(0, 12)], ...(opts.ip ? { ip: opts.ip } : {}) };
  if (running) {
    const info = await networks.connect(c.id, c.name, endpoint);
    if (!c.runtime.dns?.servers?.length && info.dnsServers.length) await useNetworkDns(root, c.id, info.dnsServers[0]!);
  }
  await writeConfig(root, { ...c, runtime: { ...c.runtime, attach: { ...attach, networks: [...attach.networks, endpoint] } } });
}

/**
 * A running container that gains a network with DNS (a user network) gets that network's
 * resolver in its resolv.conf, as Docker switches a container to its embedded DNS on connect;
 * aardvark-dns forwards other names to the host's resolvers. Rewritten in place: the file is
 * bind-mounted into the container (and into any that share its network), so its inode must stay.
 */
async function useNetworkDns(root: string, id: string, server: string): Promise<void> {
  const path = join(root, 'exec', id, 'resolv.conf');
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined || servers(text).includes(server)) return;
  await writeFile(path, [`nameserver ${server}`, ...otherLines(text)].join('\n') + '\n');
}

/**
 * Disconnecting the network whose resolver the container uses: the next network with DNS takes
 * over, or the host's resolvers (as at a start on the default bridge).
 */
async function dropNetworkDns(root: string, id: string, server: string, next: string | undefined): Promise<void> {
  const path = join(root, 'exec', id, 'resolv.conf');
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined || !servers(text).includes(server)) return;
  if (next) {
    await writeFile(path, [`nameserver ${next}`, ...otherLines(text)].join('\n') + '\n');
    return;
  }
  const host = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  const keep = (word: string) => text.split('\n').map((l) => new RegExp(`^\\s*${word}\\s+(.*)$`).exec(l)?.[1]?.trim().split(/\s+/)).find(Boolean);
  const search = keep('search');
  const options = keep('options');
  await writeFile(path, resolvConfText({ ...(search ? { search } : {}), ...(options ? { options } : {}) }, host));
}

const servers = (text: string) => text.split('\n').map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1]).filter((x): x is string => !!x);
const otherLines = (text: string) => text.split('\n').filter((l) => l.trim() && !/^\s*nameserver\s/.test(l));

export async function disconnectContainer(
  root: string,
  networks: NetworkManager | undefined,
  c: StoredConfig,
  running: boolean,
  network: string,
): Promise<void> {
  if (!networks) throw new TbuildError('TB_NETWORK_BACKEND_MISSING', 'this engine has no network manager');
  const net = await networks.inspect(network);
  const attach = c.runtime.attach;
  const keep = [];
  let found = false;
  for (const e of attach?.networks ?? []) {
    const n = await networks.inspect(e.network).catch(() => undefined);
    if (n?.id === net.id) found = true;
    else keep.push(e);
  }
  if (!found || !attach) throw new TbuildError('TB_INVALID_ARGUMENT', `container ${c.id.slice(0, 12)} is not connected to network ${net.name}`);
  if (running) {
    await networks.disconnect(c.id, net.id);
    if (net.dnsEnabled && !c.runtime.dns?.servers?.length) {
      const rest = await Promise.all(keep.map((e) => networks.inspect(e.network).catch(() => undefined)));
      await dropNetworkDns(root, c.id, net.gateway, rest.find((n) => n?.dnsEnabled)?.gateway);
    }
  }
  await writeConfig(root, { ...c, runtime: { ...c.runtime, attach: { ...attach, networks: keep } } });
}
