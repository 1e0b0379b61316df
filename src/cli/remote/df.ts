import type { CliContext } from '../context.js';
import { humanSize, table } from '../commands/images-format.js';
import type { RemoteEngine } from './engine.js';

/** `tbuild df` against a daemon: the same table as the embedded one, from `GET /system/df`. */
export async function remoteDiskUsage(engine: RemoteEngine, ctx: CliContext, format: string | undefined): Promise<void> {
  const df = await engine.df();
  const images = df.Images ?? [];
  const containers = df.Containers ?? [];
  const volumes = df.Volumes ?? [];
  const cache = df.BuildCache ?? [];
  // Docker's reckoning: what images in use hold exclusively is not reclaimable.
  const active = images.filter((i) => i.Containers > 0);
  const usedSize = active.reduce((a, i) => a + Math.max(0, i.Size - Math.max(0, i.SharedSize)), 0);
  const imagesSize = df.LayersSize ?? 0;
  const reclaim = Math.max(0, imagesSize - usedSize);
  const pct = (part: number, whole: number): string => (whole > 0 ? ` (${Math.round((part / whole) * 100)}%)` : '');
  const containersSize = containers.reduce((a, c) => a + (c.SizeRw ?? 0), 0);
  const volumeSize = volumes.reduce((a, v) => a + Math.max(0, v.UsageData?.Size ?? 0), 0);
  const unusedVolumes = volumes.filter((v) => (v.UsageData?.RefCount ?? 0) === 0);
  const cacheSize = cache.reduce((a, c) => a + c.Size, 0);
  const rows = [
    { Type: 'Images', TotalCount: String(images.length), Active: String(active.length), Size: humanSize(imagesSize), Reclaimable: `${humanSize(reclaim)}${pct(reclaim, imagesSize)}` },
    {
      Type: 'Containers',
      TotalCount: String(containers.length),
      Active: String(containers.filter((c) => c.State === 'running' || c.State === 'paused').length),
      Size: humanSize(containersSize),
      Reclaimable: humanSize(0),
    },
    {
      Type: 'Local Volumes',
      TotalCount: String(volumes.length),
      Active: String(volumes.length - unusedVolumes.length),
      Size: humanSize(volumeSize),
      Reclaimable: humanSize(unusedVolumes.reduce((a, v) => a + Math.max(0, v.UsageData?.Size ?? 0), 0)),
    },
    { Type: 'Build Cache', TotalCount: String(cache.length), Active: String(cache.filter((c) => c.InUse).length), Size: humanSize(cacheSize), Reclaimable: humanSize(cacheSize) },
  ];
  if (format === 'json' || format === '{{json .}}') {
    for (const r of rows) ctx.stdout.write(JSON.stringify(r) + '\n');
    return;
  }
  ctx.stdout.write(table(['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'], rows.map((r) => [r.Type, r.TotalCount, r.Active, r.Size, r.Reclaimable])));
}
