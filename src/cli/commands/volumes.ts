import { collect } from '../options.js';
import { checkFilterNames, filtersFromFlags } from '../../util/filters.js';
import { askYesNo } from './images-df.js';
import { humanSize } from './images-format.js';
import { selectVolumes } from '../../volumes/filters.js';
import type { RegisterCommand } from '../context.js';
import { TbuildError } from '../../errors.js';
import { formatList, Template } from '../format/index.js';
import { eachContainer } from './containers.js';

/** `tbuild volume create|ls|inspect|rm|prune`: named volumes, which outlive their containers. */
export const registerVolumeCommands: RegisterCommand = (program, ctx) => {
  const volume = program.command('volume').description('manage named volumes');
  const store = async () => {
    const v = (await ctx.engine()).volumes;
    if (!v) throw new TbuildError('TB_INTERNAL', 'this engine has no volume store');
    return v;
  };
  volume
    .command('create')
    .description('create a volume')
    .argument('[name]')
    .option('-l, --label <k=v>', 'set a label', collect, [])
    .action(async (name: string | undefined, f: { label: string[] }) => {
      const labels = Object.fromEntries(f.label.map((l) => [l.split('=')[0]!, l.split('=').slice(1).join('=')]));
      ctx.stdout.write(`${(await (await store()).create(name, labels)).volume.name}\n`);
    });
  volume
    .command('ls')
    .alias('list')
    .description('list volumes')
    .option('-q, --quiet', 'only display volume names')
    .option('-f, --filter <filter>', 'filter output based on conditions provided (dangling, driver, label, name)', collect, [])
    .option('--format <format>', 'table, json, or a Go template')
    .action(async (f: { quiet?: boolean; filter: string[]; format?: string }) => {
      const volumes = await store();
      const list = await selectVolumes(await volumes.list(), filtersFromFlags(f.filter), (v) => ({ name: v.name, labels: v.labels, driver: 'local' }), (name) => volumes.inUse(name));
      if (f.quiet) {
        for (const v of list) ctx.stdout.write(`${v.name}\n`);
        return;
      }
      const rows = list.map((v) => ({
        Name: v.name,
        Driver: 'local',
        Scope: 'local',
        Mountpoint: v.mountpoint,
        CreatedAt: v.createdAt,
        Labels: Object.entries(v.labels)
          .map(([k, x]) => `${k}=${x}`)
          .join(','),
        Label: (key: string) => v.labels[key] ?? '',
        Links: 'N/A',
        Size: 'N/A',
      }));
      ctx.stdout.write(
        formatList(f.format, rows, {
          table: 'table {{.Driver}}\t{{.Name}}',
          headers: { Name: 'VOLUME NAME', Driver: 'DRIVER', Scope: 'SCOPE', Mountpoint: 'MOUNTPOINT', CreatedAt: 'CREATED', Labels: 'LABELS', Links: 'LINKS', Size: 'SIZE' },
        }),
      );
    });
  volume
    .command('inspect')
    .description('display detailed information on one or more volumes')
    .argument('<name...>')
    .option('-f, --format <format>', 'format output using a Go template, or json')
    .action(async (names: string[], f: { format?: string }) => {
      const s = await store();
      const out = [];
      for (const n of names) {
        const v = await s.inspect(n);
        out.push({ CreatedAt: v.createdAt, Driver: 'local', Labels: v.labels, Mountpoint: v.mountpoint, Name: v.name, Options: null, Scope: 'local' });
      }
      if (f.format && f.format !== 'json') {
        const template = new Template(f.format);
        for (const v of out) ctx.stdout.write(`${template.render(v)}\n`);
      } else ctx.stdout.write(JSON.stringify(out, null, 4) + '\n');
    });
  volume
    .command('rm')
    .alias('remove')
    .description('remove one or more volumes')
    .argument('<name...>')
    .option('-f, --force', 'remove even when in use')
    .action(async (names: string[], f: { force?: boolean }) => {
      const s = await store();
      await eachContainer(ctx, names, (n) => s.remove(n, Boolean(f.force)));
    });
  volume
    .command('prune')
    .description('remove unused volumes (anonymous ones; with -a every unused one)')
    .option('-a, --all', 'all unused volumes, not just anonymous ones')
    .option('-f, --force', 'do not prompt for confirmation')
    .option('--filter <filter>', 'provide filter values (e.g. "label=<label>")', collect, [])
    .action(async (f: { all?: boolean; force?: boolean; filter: string[] }) => {
      const filters = filtersFromFlags(f.filter);
      checkFilterNames(filters, ['label', 'label!', 'all']);
      const all = Boolean(f.all) || (filters.get('all') ?? []).some((v) => v === 'true' || v === '1');
      const what = all ? 'all local volumes' : 'anonymous local volumes';
      if (!f.force && !(await askYesNo(ctx, `WARNING! This will remove ${what} not used by at least one container.\nAre you sure you want to continue? [y/N] `))) return;
      const labels = [...(filters.get('label') ?? []), ...(filters.get('label!') ?? []).map((l) => `!${l}`)];
      const r = await (await store()).prune({ all, labels });
      if (r.deleted.length) ctx.stdout.write(`Deleted Volumes:\n${r.deleted.join('\n')}\n\n`);
      ctx.stdout.write(`Total reclaimed space: ${humanSize(r.spaceReclaimed)}\n`);
    });
};
