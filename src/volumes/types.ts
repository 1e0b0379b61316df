/** A named volume: `<root>/volumes/<name>/_data`; it outlives the containers that mount it. */
export interface VolumeRecord {
  name: string;
  /** Host directory mounted into containers. */
  mountpoint: string;
  createdAt: string;
  labels: Record<string, string>;
  /** Made implicitly (`-v /path`, image VOLUME); `rm -v` and `volume prune` remove it. */
  anonymous: boolean;
}

export interface Volumes {
  /** Create `name` (generated when omitted); an existing volume comes back with `created: false`. */
  create(name?: string, labels?: Record<string, string>, anonymous?: boolean): Promise<{ volume: VolumeRecord; created: boolean }>;
  get(name: string): Promise<VolumeRecord | undefined>;
  /** Throws TB_VOLUME_NOT_FOUND (`get <name>: no such volume`). */
  inspect(name: string): Promise<VolumeRecord>;
  list(): Promise<VolumeRecord[]>;
  /** TB_VOLUME_IN_USE while a container mounts it, unless `force`. */
  remove(name: string, force?: boolean): Promise<void>;
  /**
   * Unused anonymous volumes (all unused ones with `all`); with `labels` (Docker's `label=KEY`,
   * `label=KEY=VALUE`, `label!=…` filters) only those matching every one. Returns the bytes freed.
   */
  prune(opts?: { all?: boolean; labels?: string[] }): Promise<{ deleted: string[]; spaceReclaimed: number }>;
  /** Whether a container mounts it. */
  inUse(name: string): Promise<boolean>;
  /** Who mounts a volume: consulted before remove/prune (the composition root wires the container manager in). */
  setInUseCheck(check: (name: string) => Promise<string[]>): void;
}
