import type { RegisterCommand } from '../context.js';
import { TbuildError } from '../../errors.js';
import { collect } from '../options.js';
import { parseSize } from './container-flags.js';
import { humanSize, since } from './images-format.js';
import { formatList } from '../format/index.js';
import { askYesNo } from './images-df.js';

/** `tbuild builder prune`: free the build cache, with Docker's flags and output. */
export const registerBuilderCommands: RegisterCommand = (program, ctx) => {
  const builder = program.command('builder').description('manage the build cache');
  builder
    .command('prune')
    .description('remove build cache')
    .option('-a, --all', 'remove all unused build cache, not just dangling results')
    .option('-f, --force', 'do not prompt for confirmation')
    .option('--filter <filter>', 'provide filter values (until=<duration>)', collect, [])
    .option('--keep-storage <size>', 'amount of disk space to keep for cache')
    .action(async (opts: { all?: boolean; force?: boolean; filter: string[]; keepStorage?: string }) => {
      let until: string | undefined;
      for (const f of opts.filter) {
        const [k, v] = [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)];
        if (k !== 'until' || !v) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid filter '${f}' (supported: until=<duration>)`);
        until = v;
      }
      const keepStorage = opts.keepStorage !== undefined ? parseSize(opts.keepStorage) : undefined;
      if (!opts.force) {
        const what = opts.all ? 'all build cache' : 'all dangling build cache';
        if (!(await askYesNo(ctx, `WARNING! This will remove ${what}.\nAre you sure you want to continue? [y/N] `))) return;
      }
      const engine = await ctx.engine();
      const r = await engine.pruneBuildCache({ all: Boolean(opts.all), ...(until ? { until } : {}), ...(keepStorage !== undefined ? { keepStorage } : {}) });
      if (r.CachesDeleted.length) {
        ctx.stdout.write('Deleted build cache objects:\n');
        for (const id of r.CachesDeleted) ctx.stdout.write(`${id}\n`);
        ctx.stdout.write('\n');
      }
      ctx.stdout.write(`Total reclaimed space: ${humanSize(r.SpaceReclaimed)}\n`);
    });
  builder
    .command('du')
    .description('show the disk usage of the build cache')
    .option('--verbose', 'provide a more verbose output')
    .option('--filter <filter>', 'filter records (until=, type=)', collect, [])
    .action(async (opts: { verbose?: boolean; filter: string[] }) => {
      const df = await (await ctx.engine()).df();
      let records = df.BuildCache ?? [];
      for (const f of opts.filter) {
        const [k, v] = [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)];
        if (k === 'type') records = records.filter((r) => r.Type === v);
        else throw new TbuildError('TB_INVALID_ARGUMENT', `invalid filter '${f}' (supported: type=)`);
      }
      records = [...records].sort((a, b) => b.Size - a.Size);
      const total = records.reduce((n, r) => n + r.Size, 0);
      const reclaimable = records.filter((r) => !r.InUse).reduce((n, r) => n + r.Size, 0);
      if (opts.verbose) {
        for (const r of records) {
          ctx.stdout.write(
            [`ID:\t\t${r.ID}`, ...(r.Parent ? [`Parent:\t\t${r.Parent}`] : []), `Created at:\t${r.CreatedAt}`, `Mutable:\tfalse`, `Reclaimable:\t${!r.InUse}`, `Shared:\t\t${r.Shared}`, `Size:\t\t${humanSize(r.Size)}`, `Description:\t${r.Description}`, `Usage count:\t${r.UsageCount}`, `Last used:\t${r.LastUsedAt ?? ''}`, `Type:\t\t${r.Type}`, '', ''].join('\n'),
          );
        }
      } else {
        const rows = records.map((r) => ({ ID: r.ID.slice(0, 25), Reclaimable: r.InUse ? 'false' : 'true', Size: humanSize(r.Size), LastAccessed: r.LastUsedAt ? since(r.LastUsedAt) : '' }));
        ctx.stdout.write(formatList(undefined, rows, { table: 'table {{.ID}}\t{{.Reclaimable}}\t{{.Size}}\t{{.LastAccessed}}', headers: { ID: 'ID', Reclaimable: 'RECLAIMABLE', Size: 'SIZE', LastAccessed: 'LAST ACCESSED' } }));
      }
      ctx.stdout.write(`Reclaimable:\t${humanSize(reclaimable)}\nTotal:\t\t${humanSize(total)}\n`);
    });
};
