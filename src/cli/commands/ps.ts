import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import type { ContainerRecord } from '../../containers/types.js';
import { TbuildError } from '../../errors.js';
import { collect } from '../options.js';
import { filtersFromFlags } from '../../util/filters.js';
import { filtersWantAll, selectContainers } from '../../api/container-filters.js';
import { formatList } from '../format/index.js';
import { ellipsis, goTime, humanDuration, humanSize, since } from './images-format.js';

/** `ps` / `container ls`: Docker's columns, `--format` templates, `--filter`, `-s`, `-n`, `-l`. */
export function addPs(program: Command, ctx: CliContext, name: string): void {
  program
    .command(name)
    .aliases(name === 'ls' ? ['list', 'ps'] : [])
    .description('list containers')
    .option('-a, --all', 'show all containers (default: running only)')
    .option('-q, --quiet', 'only display container ids')
    .option('--no-trunc', 'do not truncate output')
    .option('-s, --size', 'display total file sizes')
    .option('-n, --last <n>', 'show n last created containers (includes all states)')
    .option('-l, --latest', 'show the latest created container (includes all states)')
    .option('-f, --filter <filter>', 'filter output based on conditions provided', collect, [])
    .option('--format <format>', 'table, json, or a Go template')
    .action(async (f: PsFlags) => {
      const engine = await ctx.engine();
      const last = f.latest ? 1 : f.last !== undefined ? Number(f.last) : undefined;
      if (last !== undefined && (!Number.isInteger(last) || last < 0)) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid value for --last: ${f.last}`);
      const filters = filtersFromFlags(f.filter);
      let list = await engine.containers.list({ all: Boolean(f.all) || last !== undefined || filtersWantAll(filters) });
      list = await selectContainers(list, filters, { image: (ref) => engine.images.get(ref), container: (ref) => engine.containers.inspect(ref) });
      list = [...list].sort((a, b) => Date.parse(b.created) - Date.parse(a.created));
      if (last !== undefined && last > 0) list = list.slice(0, last);
      const trunc = f.trunc !== false;
      if (f.quiet) {
        ctx.stdout.write(list.map((c) => `${trunc ? c.id.slice(0, 12) : c.id}\n`).join(''));
        return;
      }
      const sizes = f.size || (f.format ?? '').includes('.Size') ? await containerSizes(ctx) : new Map<string, Sizes>();
      const rows = list.map((c) => row(c, trunc, sizes.get(c.id)));
      const columns = `table {{.ID}}\\t{{.Image}}\\t{{.Command}}\\t{{.RunningFor}}\\t{{.Status}}\\t{{.Ports}}\\t{{.Names}}${f.size ? '\\t{{.Size}}' : ''}`;
      ctx.stdout.write(formatList(f.format ?? ctx.config.psFormat, rows, { table: columns, headers: HEADERS }));
    });
}

interface PsFlags {
  all?: boolean;
  quiet?: boolean;
  trunc?: boolean;
  size?: boolean;
  last?: string;
  latest?: boolean;
  filter: string[];
  format?: string;
}

const HEADERS = {
  ID: 'CONTAINER ID',
  Image: 'IMAGE',
  Command: 'COMMAND',
  CreatedAt: 'CREATED AT',
  RunningFor: 'CREATED',
  Ports: 'PORTS',
  State: 'STATE',
  Status: 'STATUS',
  Size: 'SIZE',
  Names: 'NAMES',
  Labels: 'LABELS',
  Mounts: 'MOUNTS',
  Networks: 'NETWORKS',
  LocalVolumes: 'LOCAL VOLUMES',
};

interface Sizes {
  rw: number;
  rootFs: number;
}

async function containerSizes(ctx: CliContext): Promise<Map<string, Sizes>> {
  const df = await (await ctx.engine()).df();
  const out = new Map<string, Sizes>();
  const imageSize = new Map(((df.Images ?? []) as Array<{ Id: string; Size: number }>).map((i) => [i.Id, i.Size]));
  for (const c of (df.Containers ?? []) as Array<{ Id: string; ImageID?: string; SizeRw?: number; SizeRootFs?: number }>) {
    const rw = c.SizeRw ?? 0;
    out.set(c.Id, { rw, rootFs: c.SizeRootFs || rw + (imageSize.get(c.ImageID ?? '') ?? 0) });
  }
  return out;
}

function ports(c: ContainerRecord): string {
  return (c.network?.ports ?? [])
    .map((p) => {
      const span = (from: number) => `${from}${p.range > 1 ? `-${from + p.range - 1}` : ''}`;
      return `${p.hostIp || '0.0.0.0'}:${span(p.hostPort)}->${span(p.containerPort)}/${p.protocol}`;
    })
    .join(', ');
}

function row(c: ContainerRecord, trunc: boolean, size: Sizes | undefined): Record<string, unknown> {
  const cmd = [c.path, ...c.args].join(' ');
  const labels = c.options.labels ?? {};
  const mounts = (c.options.mounts ?? []).filter((m) => m.type !== 'tmpfs').map((m) => m.source);
  return {
    ID: trunc ? c.id.slice(0, 12) : c.id,
    Image: c.image,
    Command: `"${trunc ? ellipsis(cmd, 20) : cmd}"`,
    CreatedAt: goTime(c.created),
    RunningFor: since(c.created),
    Ports: ports(c),
    State: c.state.status,
    Status: statusText(c),
    Size: size ? `${humanSize(size.rw)} (virtual ${humanSize(size.rootFs)})` : '0B',
    Names: c.name,
    Labels: Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
    Label: (key: string) => labels[key] ?? '',
    Mounts: mounts.filter(Boolean).join(','),
    Networks: c.options.network && c.options.network !== 'default' ? c.options.network : 'bridge',
    LocalVolumes: String((c.options.mounts ?? []).filter((m) => m.type === 'volume').length),
  };
}

/** Docker's STATUS column. */
export function statusText(c: ContainerRecord, now = Date.now()): string {
  const s = c.state;
  const ago = (iso: string) => humanDuration(Math.max(0, now - Date.parse(iso)));
  switch (s.status) {
    case 'running':
      return `Up ${ago(s.startedAt)}`;
    case 'paused':
      return `Up ${ago(s.startedAt)} (Paused)`;
    case 'exited':
      return s.startedAt.startsWith('0001') && s.error ? 'Created' : `Exited (${s.exitCode}) ${ago(s.finishedAt)} ago`;
    case 'created':
      return 'Created';
    default:
      return s.status[0]!.toUpperCase() + s.status.slice(1);
  }
}
