import type { SystemDf } from '../../api/types.js';
import type { CliContext } from '../context.js';
import { ellipsis, humanSize, since, table } from './images-format.js';

/**
 * `system df -v` as the Docker CLI prints it: every image, container, local volume and build cache
 * record with its own size, in four tables (`--format json` gives the daemon's JSON).
 */
export function renderDiskUsageVerbose(df: SystemDf, ctx: CliContext, format: string | undefined): void {
  if (format === 'json' || format === '{{json .}}') {
    ctx.stdout.write(JSON.stringify(df) + '\n');
    return;
  }
  const secs = (v: unknown) => (typeof v === 'number' ? new Date(v * 1000).toISOString() : typeof v === 'string' ? v : undefined);
  const short = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);
  const out: string[] = [];

  out.push('Images space usage:\n\n');
  const imageRows: string[][] = [];
  for (const i of df.Images ?? []) {
    const tags = (i.RepoTags as string[] | null | undefined)?.filter((t) => t !== '<none>:<none>') ?? [];
    const unique = Math.max(0, i.Size - Math.max(0, i.SharedSize));
    const cells = (repo: string, tag: string) => [repo, tag, short(i.Id), since(secs(i.Created)), humanSize(i.Size), humanSize(Math.max(0, i.SharedSize)), humanSize(unique), String(i.Containers)];
    if (!tags.length) imageRows.push(cells('<none>', '<none>'));
    for (const t of tags) {
      const at = t.lastIndexOf(':');
      imageRows.push(cells(t.slice(0, at), t.slice(at + 1)));
    }
  }
  out.push(table(['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE', 'SHARED SIZE', 'UNIQUE SIZE', 'CONTAINERS'], imageRows));

  out.push('\nContainers space usage:\n\n');
  out.push(
    table(
      ['CONTAINER ID', 'IMAGE', 'COMMAND', 'LOCAL VOLUMES', 'SIZE', 'CREATED', 'STATUS', 'NAMES'],
      (df.Containers ?? []).map((c) => {
        const mounts = (c.Mounts as Array<{ Type?: string }> | undefined) ?? [];
        const names = ((c.Names as string[] | undefined) ?? []).map((n) => n.replace(/^\//, ''));
        return [
          short(c.Id),
          String(c.Image ?? ''),
          `"${ellipsis(String(c.Command ?? ''), 20)}"`,
          String(mounts.filter((m) => m.Type === 'volume').length),
          humanSize(c.SizeRw ?? 0),
          since(secs(c.Created)),
          String(c.Status ?? c.State),
          names.join(','),
        ];
      }),
    ),
  );

  out.push('\nLocal Volumes space usage:\n\n');
  out.push(table(['VOLUME NAME', 'LINKS', 'SIZE'], (df.Volumes ?? []).map((v) => [v.Name, String(v.UsageData?.RefCount ?? 0), humanSize(Math.max(0, v.UsageData?.Size ?? 0))])));

  const cache = df.BuildCache ?? [];
  out.push(`\nBuild cache usage: ${humanSize(cache.reduce((a, c) => a + c.Size, 0))}\n\n`);
  out.push(
    table(
      ['CACHE ID', 'CACHE TYPE', 'SIZE', 'CREATED', 'LAST USED', 'USAGE', 'SHARED'],
      cache.map((c) => [c.ID.slice(0, 12), c.Type, humanSize(c.Size), since(c.CreatedAt), since(c.LastUsedAt), String(c.UsageCount), String(c.Shared)]),
    ),
  );
  ctx.stdout.write(out.join(''));
}
