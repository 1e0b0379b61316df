import { TbuildError } from '../errors.js';
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
  if (running) await networks.connect(c.id, c.name, endpoint);
  await writeConfig(root, { ...c, runtime: { ...c.runtime, attach: { ...attach, networks: [...attach.networks, endpoint] } } });
}

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
  if (running) await networks.disconnect(c.id, net.id);
  await writeConfig(root, { ...c, runtime: { ...c.runtime, attach: { ...attach, networks: keep } } });
}
