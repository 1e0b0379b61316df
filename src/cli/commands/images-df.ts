import type { CliContext } from '../context.js';
import type { Engine } from '../../engine.js';
import { humanSize, table } from './images-format.js';

/** `df` and the prune prompt: the image commands' disk-space side. */

function out(ctx: CliContext, text: string): void {
  ctx.stdout.write(text);
}

/** Docker's prune prompt; anything but y/Y on stdin declines. */
export async function confirm(ctx: CliContext, all: boolean | undefined): Promise<boolean> {
  ctx.stdout.write(
    `WARNING! This will remove all ${all ? 'images without at least one container associated to them' : 'dangling images'}.\nAre you sure you want to continue? [y/N] `,
  );
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

export async function diskUsage(engine: Engine, ctx: CliContext, format: string | undefined): Promise<void> {
  const images = await engine.images.list();
  const containers = await engine.containers.list({ all: true }).catch(() => []);
  const usedIds = new Set(containers.map((c) => c.imageId));
  // Layers shared by several images count once, as Docker's "SIZE" does.
  const layerSize = new Map<string, number>();
  const activeLayers = new Set<string>();
  for (const img of images) {
    for (const l of img.layers) {
      layerSize.set(l.snapshot, l.size);
      if (usedIds.has(img.id)) activeLayers.add(l.snapshot);
    }
  }
  const imagesSize = [...layerSize.values()].reduce((a, b) => a + b, 0);
  const activeSize = [...activeLayers].reduce((a, s) => a + (layerSize.get(s) ?? 0), 0);
  // Build cache: committed snapshots no image stacks on (build results), and the cache records.
  const imageSnaps = new Set<string>();
  for (const img of images) {
    const top = img.layers[img.layers.length - 1];
    if (top) for (const s of await engine.snapshots.chain(top.snapshot).catch(() => [top.snapshot])) imageSnaps.add(s);
  }
  let cacheSize = 0;
  let cacheCount = 0;
  for await (const s of engine.snapshots.walk()) {
    if (s.kind !== 'committed' || imageSnaps.has(s.name)) continue;
    cacheSize += (await engine.snapshots.usage(s.name).catch(() => ({ size: 0 }))).size;
  }
  for await (const _r of engine.cacheIndex.walk()) cacheCount++;
  let containersSize = 0;
  for (const c of containers) {
    containersSize += (await engine.snapshots.usage(c.snapshotKey).catch(() => ({ size: 0 }))).size;
  }
  const running = containers.filter((c) => c.state.status === 'running' || c.state.status === 'paused').length;
  const pct = (part: number, whole: number): string => (whole > 0 ? ` (${Math.round((part / whole) * 100)}%)` : '');
  const rows = [
    {
      Type: 'Images',
      TotalCount: String(images.length),
      Active: String(images.filter((i) => usedIds.has(i.id)).length),
      Size: humanSize(imagesSize),
      Reclaimable: `${humanSize(imagesSize - activeSize)}${pct(imagesSize - activeSize, imagesSize)}`,
    },
    {
      Type: 'Containers',
      TotalCount: String(containers.length),
      Active: String(running),
      Size: humanSize(containersSize),
      Reclaimable: humanSize(0),
    },
    { Type: 'Local Volumes', TotalCount: '0', Active: '0', Size: humanSize(0), Reclaimable: humanSize(0) },
    {
      Type: 'Build Cache',
      TotalCount: String(cacheCount),
      Active: '0',
      Size: humanSize(cacheSize),
      Reclaimable: humanSize(cacheSize),
    },
  ];
  if (format === 'json' || format === '{{json .}}') {
    for (const r of rows) out(ctx, JSON.stringify(r) + '\n');
    return;
  }
  out(ctx, table(['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'], rows.map((r) => [r.Type, r.TotalCount, r.Active, r.Size, r.Reclaimable])));
}
