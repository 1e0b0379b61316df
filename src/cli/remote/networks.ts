import { filtersQuery, type Filters } from '../../util/filters.js';
import type { NetworkApi } from '../../api/types.js';
import type { EngineClient } from './client.js';

/** The daemon's `/networks`, passed through in Docker's shapes. */
export class RemoteNetworks implements NetworkApi {
  readonly #client: EngineClient;

  constructor(client: EngineClient) {
    this.#client = client;
  }

  list(): Promise<Array<Record<string, unknown>>> {
    return this.#client.json('GET', '/networks');
  }

  inspect(ref: string): Promise<Record<string, unknown>> {
    return this.#client.json('GET', `/networks/${encodeURIComponent(ref)}`);
  }

  create(opts: Parameters<NetworkApi['create']>[0]): Promise<{ Id: string; Warning: string }> {
    const config = opts.subnet || opts.gateway ? [{ ...(opts.subnet ? { Subnet: opts.subnet } : {}), ...(opts.gateway ? { Gateway: opts.gateway } : {}) }] : [];
    return this.#client.json('POST', '/networks/create', {
      body: { Name: opts.name, Driver: 'bridge', Internal: Boolean(opts.internal), Labels: opts.labels ?? {}, IPAM: { Driver: 'default', Config: config } },
    });
  }

  async remove(ref: string): Promise<void> {
    await this.#client.call('DELETE', `/networks/${encodeURIComponent(ref)}`);
  }

  async prune(filters?: Filters): Promise<string[]> {
    const r = await this.#client.json<{ NetworksDeleted: string[] | null }>('POST', '/networks/prune', { query: { filters: filtersQuery(filters) } });
    return r.NetworksDeleted ?? [];
  }
}
