import type { CliContext } from '../context.js';
import type { SystemDf } from '../../api/types.js';
import { humanSize } from './images-format.js';
import { formatList } from '../format/index.js';

/** `df` and the prune prompt: the image commands' disk-space side. */

/** Docker's prune prompt; anything but y/Y on stdin declines. */
export function confirm(ctx: CliContext, all: boolean | undefined): Promise<boolean> {
  return askYesNo(
    ctx,
    `WARNING! This will remove all ${all ? 'images without at least one container associated to them' : 'dangling images'}.\nAre you sure you want to continue? [y/N] `,
  );
}

/** Print `prompt`, read one line from stdin: true only for y/yes. */
export async function askYesNo(ctx: CliContext, prompt: string): Promise<boolean> {
  ctx.stdout.write(prompt);
  const line = await new Promise<string>((resolve) => {
    let buf = '';
    const onData = (d: Buffer): void => {
      buf += d.toString();
      if (buf.includes('\n')) finish();
    };
    const finish = (): void => {
      process.stdin.off('data', onData);
      process.stdin.off('end', finish);
      process.stdin.pause();
      resolve(buf.split('\n')[0] ?? '');
    };
    process.stdin.on('data', onData);
    process.stdin.on('end', finish);
  });
  return /^y(es)?$/i.test(line.trim());
}

/** `tbuild df`: Docker's table (or JSON lines) from either engine's `df()`. */
export function renderDiskUsage(df: SystemDf, ctx: CliContext, format: string | undefined): void {
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
  ctx.stdout.write(
    formatList(format, rows, {
      table: 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}',
      headers: { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' },
    }),
  );
}
