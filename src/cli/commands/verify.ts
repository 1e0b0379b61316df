import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { TbuildError } from '../../errors.js';
import { humanSize } from './images-format.js';

/**
 * `tbuild system verify [--repair]`: the state root checked end to end (the engine's `verify`).
 * Exits 1 while a problem remains; `--repair` removes orphans, and what it cannot mend stays listed.
 */
export function addVerify(system: Command, ctx: CliContext): void {
  system
    .command('verify')
    .description('check every blob, snapshot, image, name and cache record, and what crashed processes left')
    .option('--repair', 'remove orphans (layers and names nothing refers to, state left by dead processes)')
    .option('--format <format>', 'table or json')
    .action(async (opts: { repair?: boolean; format?: string }) => {
      if (opts.format !== undefined && opts.format !== 'json' && opts.format !== 'table') {
        throw new TbuildError('TB_INVALID_ARGUMENT', `system verify --format takes table or json, not ${JSON.stringify(opts.format)}`);
      }
      const report = await (await ctx.engine()).verify({ repair: Boolean(opts.repair) });
      const left = report.problems.filter((p) => !p.repaired);
      if (left.length) ctx.setExitCode(1);
      if (opts.format === 'json') {
        ctx.stdout.write(JSON.stringify(report) + '\n');
        return;
      }
      const rate = report.seconds > 0 ? `, ${humanSize(report.blobBytes / report.seconds)}/s` : '';
      ctx.stdout.write(
        `Checked ${report.blobs} blobs (${humanSize(report.blobBytes)}${rate}), ${report.snapshots} snapshots, ` +
          `${report.images} images, ${report.cacheRecords} cache records in ${report.seconds.toFixed(2)}s\n`,
      );
      for (const p of report.problems) {
        const how = p.repaired ? 'repaired' : p.repairable ? 'orphan (--repair removes it)' : 'needs attention';
        ctx.stdout.write(`${p.kind}: ${p.subject}: ${p.detail} [${how}]\n`);
      }
      const repaired = report.problems.length - left.length;
      ctx.stdout.write(
        report.problems.length === 0
          ? 'No problems found\n'
          : `${report.problems.length} problem${report.problems.length > 1 ? 's' : ''}${repaired ? `, ${repaired} repaired` : ''}\n`,
      );
    });
}
