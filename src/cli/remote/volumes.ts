import type { VolumeRecord, Volumes } from '../../volumes/types.js';
import type { EngineClient } from './client.js';

interface ApiVolume {
  Name: string;
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string> | null;
}

function record(v: ApiVolume): VolumeRecord {
  return { name: v.Name, mountpoint: v.Mountpoint, createdAt: v.CreatedAt, labels: v.Labels ?? {}, anonymous: false };
}

/** The daemon's `/volumes`, so `tbuild -H … volume …` works as it does on the embedded engine. */
export class RemoteVolumes implements Volumes {
  readonly #client: EngineClient;

  constructor(client: EngineClient) {
    this.#client = client;
  }

  async create(name?: string, labels: Record<string, string> = {}): Promise<{ volume: VolumeRecord; created: boolean }> {
    const v = await this.#client.json<ApiVolume>('POST', '/volumes/create', { body: { ...(name ? { Name: name } : {}), Labels: labels } });
    return { volume: record(v), created: true };
  }

  async get(name: string): Promise<VolumeRecord | undefined> {
    return this.inspect(name).catch((err: { code?: string }) => {
      if (err.code === 'TB_API_NOT_FOUND' || err.code === 'TB_VOLUME_NOT_FOUND') return undefined;
      throw err;
    });
  }

  async inspect(name: string): Promise<VolumeRecord> {
    return record(await this.#client.json<ApiVolume>('GET', `/volumes/${encodeURIComponent(name)}`));
  }

  async list(): Promise<VolumeRecord[]> {
    const r = await this.#client.json<{ Volumes: ApiVolume[] | null }>('GET', '/volumes');
    return (r.Volumes ?? []).map(record);
  }

  async remove(name: string, force = false): Promise<void> {
    await this.#client.call('DELETE', `/volumes/${encodeURIComponent(name)}`, { query: { force: force ? '1' : undefined } });
  }

  async prune(opts: { all?: boolean; labels?: string[] } = {}): Promise<{ deleted: string[]; spaceReclaimed: number }> {
    const filters: Record<string, string[]> = {};
    if (opts.all) filters.all = ['true'];
    for (const l of opts.labels ?? []) (l.startsWith('!') ? (filters['label!'] ??= []) : (filters.label ??= [])).push(l.replace(/^!/, ''));
    const r = await this.#client.json<{ VolumesDeleted: string[] | null; SpaceReclaimed: number }>('POST', '/volumes/prune', {
      query: Object.keys(filters).length ? { filters: JSON.stringify(filters) } : {},
    });
    return { deleted: r.VolumesDeleted ?? [], spaceReclaimed: r.SpaceReclaimed };
  }

  async inUse(name: string): Promise<boolean> {
    const r = await this.#client.json<{ Volumes: ApiVolume[] | null }>('GET', '/volumes', { query: { filters: JSON.stringify({ dangling: ['false'], name: [name] }) } });
    return (r.Volumes ?? []).some((v) => v.Name === name);
  }

  /** The daemon checks use itself. */
  setInUseCheck(): void {}
}
