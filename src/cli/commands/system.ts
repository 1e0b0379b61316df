import { checkFilterNames, filtersFromFlags, PRUNE_FILTERS } from '../../util/filters.js';
import type { Command } from 'commander';
import type { CliContext, RegisterCommand } from '../context.js';
import { TbuildError } from '../../errors.js';
import { collect } from '../options.js';
import { Template } from '../format/index.js';
import { askYesNo, renderDiskUsage } from './images-df.js';
import { humanSize } from './images-format.js';
import { renderInfo } from './info-text.js';
import { addVerify } from './verify.js';
import { renderDiskUsageVerbose } from './df-verbose.js';

/** `tbuild info`, `tbuild events` and the `system` group (`df`, `prune`, `events`, `info`, as Docker's; `verify`). */
export const registerSystemCommands: RegisterCommand = (program, ctx) => {
  addInfo(program, ctx);
  addEvents(program, ctx);
  const system = program.command('system').description('manage tbuild');
  addInfo(system, ctx);
  addEvents(system, ctx);
  system
    .command('df')
    .description('show disk usage (images, containers, local volumes, build cache)')
    .option('-v, --verbose', 'show detailed information on space usage')
    .option('--format <format>', 'table, json, or a Go template')
    .action(async (opts: { format?: string; verbose?: boolean }) => {
      // a Go template over these rows is not carried out: say so rather than print the table
      if (opts.verbose && opts.format !== undefined && !['table', 'json', '{{json .}}'].includes(opts.format)) {
        throw new TbuildError('TB_INVALID_ARGUMENT', `system df -v --format ${JSON.stringify(opts.format)} is not supported by tbuild (table or json)`);
      }
      const df = await (await ctx.engine()).df();
      if (opts.verbose) renderDiskUsageVerbose(df, ctx, opts.format);
      else renderDiskUsage(df, ctx, opts.format);
    });
  addPrune(system, ctx);
  addVerify(system, ctx);
};

function addInfo(parent: Command, ctx: CliContext): void {
  parent
    .command('info')
    .description('display system-wide information')
    .option('-f, --format <format>', 'format output using a Go template, or json')
    .action(async (opts: { format?: string }) => {
      const engine = await ctx.engine();
      const info = await engine.info();
      if (opts.format) {
        ctx.stdout.write(new Template(opts.format === 'json' ? '{{json .}}' : opts.format).render(info) + '\n');
        return;
      }
      const source = ctx.config.source;
      ctx.stdout.write(renderInfo(info, { where: ctx.host() || `embedded engine (root ${engine.root})`, ...(source ? { config: source } : {}) }));
    });
}

function parseFilters(list: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const f of list) {
    const eq = f.indexOf('=');
    if (eq <= 0) throw new TbuildError('TB_INVALID_ARGUMENT', `bad format of filter (expected name=value): ${f}`);
    (out[f.slice(0, eq)] ??= []).push(f.slice(eq + 1));
  }
  return out;
}

function addEvents(parent: Command, ctx: CliContext): void {
  parent
    .command('events')
    .description('get real-time events from the daemon')
    .option('--since <time>', 'show all events created since timestamp')
    .option('--until <time>', 'stream events until this timestamp')
    .option('-f, --filter <filter>', 'filter output based on conditions provided', collect, [])
    .option('--format <format>', 'format output using a Go template, or json')
    .action(async (opts: { since?: string; until?: string; filter: string[]; format?: string }) => {
      const engine = await ctx.engine();
      if (!engine.events) {
        throw new TbuildError(
          'TB_INVALID_ARGUMENT',
          'events come from a daemon: the embedded engine keeps no event log (start `tbuild daemon` and use -H, or $TBUILD_HOST)',
        );
      }
      const template = opts.format ? new Template(opts.format === 'json' ? '{{json .}}' : opts.format) : undefined;
      const stop = new AbortController();
      const onInt = () => stop.abort();
      process.once('SIGINT', onInt);
      try {
        const stream = engine.events({
          ...(opts.since ? { since: opts.since } : {}),
          ...(opts.until ? { until: opts.until } : {}),
          filters: parseFilters(opts.filter),
          signal: stop.signal,
        });
        for await (const e of stream) ctx.stdout.write((template ? template.render(templateView(e)) : eventLine(e)) + '\n');
      } catch (err) {
        if (!stop.signal.aborted) throw err;
      } finally {
        process.off('SIGINT', onInt);
      }
    });
}

/**
 * An event as Docker's templates see it: its Go field names (`.Status`, `.ID`, `.From`, `.Scope`,
 * `.Time`, `.TimeNano`) beside the JSON ones, which alone `{{json .}}` prints.
 */
function templateView(e: Record<string, unknown>): Record<string, unknown> {
  const view = { ...e };
  const go = { Status: e.status, ID: e.id, From: e.from, Scope: e.scope, Time: e.time, TimeNano: e.timeNano };
  for (const [k, v] of Object.entries(go)) Object.defineProperty(view, k, { value: v ?? '', enumerable: false });
  return view;
}

/** Docker's default event line: time, type, action, actor id and its attributes. */
function eventLine(e: Record<string, unknown>): string {
  const nanos = Number(e.timeNano ?? 0);
  const time = new Date(nanos / 1e6).toISOString().replace('Z', '').replace(/\.(\d{3})$/, (_m, ms: string) => `.${ms}${String(nanos % 1e6).padStart(6, '0')}`);
  const actor = (e.Actor ?? {}) as { ID?: string; Attributes?: Record<string, string> };
  const attrs = Object.entries(actor.Attributes ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  return `${time}+00:00 ${String(e.Type)} ${String(e.Action)} ${actor.ID ?? ''}${attrs ? ` (${attrs})` : ''}`;
}

function addPrune(system: Command, ctx: CliContext): void {
  system
    .command('prune')
    .description('remove unused data: stopped containers, unused networks, dangling images and build cache')
    .option('-a, --all', 'remove all unused images, not just dangling ones')
    .option('--volumes', 'prune anonymous volumes')
    .option('-f, --force', 'do not prompt for confirmation')
    .option('--filter <filter>', 'provide filter values (e.g. "label=<key>=<value>", "until=<timestamp>")', collect, [])
    .action(async (opts: { all?: boolean; volumes?: boolean; force?: boolean; filter: string[] }) => {
      const filters = filtersFromFlags(opts.filter);
      checkFilterNames(filters, PRUNE_FILTERS);
      // `until` is no volume filter in Docker; build cache records carry no labels, so a label filter keeps them all
      const volumeLabels = [...(filters.get('label') ?? []), ...(filters.get('label!') ?? []).map((l) => `!${l}`)];
      const until = filters.get('until')?.[0];
      if (!opts.force) {
        const lines = [
          '  - all stopped containers',
          '  - all networks not used by at least one container',
          ...(opts.volumes ? ['  - all anonymous volumes not used by at least one container'] : []),
          opts.all ? '  - all images without at least one container associated to them' : '  - all dangling images',
          opts.all ? '  - all build cache' : '  - unused build cache',
        ];
        if (!(await askYesNo(ctx, `WARNING! This will remove:\n${lines.join('\n')}\n\nAre you sure you want to continue? [y/N] `))) return;
      }
      const engine = await ctx.engine();
      let reclaimed = 0;
      const containers = await engine.containers.prune(filters);
      reclaimed += containers.spaceReclaimed;
      if (containers.deleted.length) ctx.stdout.write(`Deleted Containers:\n${containers.deleted.join('\n')}\n\n`);
      const networks = (await engine.networks?.prune(filters)) ?? [];
      if (networks.length) ctx.stdout.write(`Deleted Networks:\n${networks.join('\n')}\n\n`);
      if (opts.volumes) {
        if (!engine.volumes) throw new TbuildError('TB_INTERNAL', 'this engine has no volume store');
        const v = await engine.volumes.prune({ all: false, labels: volumeLabels });
        reclaimed += v.spaceReclaimed;
        if (v.deleted.length) ctx.stdout.write(`Deleted Volumes:\n${v.deleted.join('\n')}\n\n`);
      }
      const images = await engine.pruneImages({ all: Boolean(opts.all), filters });
      reclaimed += images.SpaceReclaimed;
      if (images.ImagesDeleted.length) {
        ctx.stdout.write('Deleted Images:\n');
        for (const it of images.ImagesDeleted) ctx.stdout.write(it.Untagged ? `untagged: ${it.Untagged}\n` : `deleted: ${it.Deleted}\n`);
        ctx.stdout.write('\n');
      }
      const cache = filters.has('label') ? { CachesDeleted: [], SpaceReclaimed: 0 } : await engine.pruneBuildCache({ all: Boolean(opts.all), ...(until ? { until } : {}) });
      reclaimed += cache.SpaceReclaimed;
      if (cache.CachesDeleted.length) ctx.stdout.write(`Deleted build cache objects:\n${cache.CachesDeleted.join('\n')}\n\n`);
      ctx.stdout.write(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
    });
}
