import type { RegisterCommand } from '../context.js';
import { TbuildError } from '../../errors.js';
import { collect } from '../options.js';
import { parseSize } from './container-flags.js';
import { humanSize } from './images-format.js';
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
};
