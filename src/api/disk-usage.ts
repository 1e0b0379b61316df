import type { ImageRecord, ImageStore } from '../images/types.js';
import { imageSize, imageSummary, sharedSize } from '../images/inspect.js';
import type { ContainerManager, ContainerRecord } from '../containers/types.js';
import type { Volumes } from '../volumes/types.js';
import { containerSummary } from './shapes/containers.js';
import type { BuildCacheRecord, SystemDf } from './types.js';

/** Where disk usage is read from; the sizing functions are optional so test doubles can leave them out. */
export interface DiskUsageSources {
  images: ImageStore;
  containers: ContainerManager;
  volumes?: Volumes;
  /** Bytes under a volume's data directory. */
  volumeSize?(name: string): Promise<number>;
  /** Bytes in a container's writable layer. */
  containerSize?(c: ContainerRecord): Promise<number>;
  /** Build cache entries (committed snapshots no image holds). */
  buildCache?(images: ImageRecord[]): Promise<BuildCacheRecord[]>;
}

/** `docker system df` for one engine, computed one way for the embedded CLI and the daemon alike. */
export async function systemDf(src: DiskUsageSources): Promise<SystemDf> {
  const [images, containers, volumes] = await Promise.all([
    src.images.list(),
    src.containers.list({ all: true }),
    src.volumes?.list() ?? Promise.resolve([]),
  ]);
  const used = new Map<string, number>();
  for (const c of containers) used.set(c.imageId, (used.get(c.imageId) ?? 0) + 1);
  // Layers shared by several images count once.
  const layerSizes = new Map<string, number>();
  for (const img of images) for (const l of img.layers) layerSizes.set(l.diffId, l.size);
  const volumeUse = new Map<string, number>();
  for (const c of containers) {
    for (const m of c.options.mounts ?? []) if (m.type === 'volume') volumeUse.set(m.source, (volumeUse.get(m.source) ?? 0) + 1);
  }
  return {
    LayersSize: [...layerSizes.values()].reduce((a, b) => a + b, 0),
    Images: images.map((img) => ({
      ...imageSummary(img, used.get(img.id) ?? 0),
      Id: img.id,
      Size: imageSize(img),
      Containers: used.get(img.id) ?? 0,
      SharedSize: sharedSize(img, images),
    })),
    Containers: await Promise.all(
      containers.map(async (c) => ({
        ...containerSummary(c),
        Id: c.id,
        State: c.state.status,
        SizeRw: (await src.containerSize?.(c).catch(() => 0)) ?? 0,
        SizeRootFs: 0,
      })),
    ),
    Volumes: await Promise.all(
      volumes.map(async (v) => ({
        Name: v.name,
        Driver: 'local',
        Mountpoint: v.mountpoint,
        CreatedAt: v.createdAt,
        Labels: v.labels,
        Scope: 'local',
        Options: {},
        UsageData: { Size: (await src.volumeSize?.(v.name).catch(() => -1)) ?? -1, RefCount: volumeUse.get(v.name) ?? 0 },
      })),
    ),
    BuildCache: (await src.buildCache?.(images)) ?? [],
  };
}
