import type { Command } from 'commander';
import type { CliContext, RegisterCommand } from '../context.js';
import type { BuildRecords } from '../../records/types.js';
import { TbuildError } from '../../errors.js';
import { formatList, renderTemplate } from '../format/index.js';
import { humanDuration } from '../../util/time.js';
import { resolve } from 'node:path';
import { writeFileAtomic } from '../../util/atomic.js';

/** `tbuild builds …`: what every build left behind (steps, timings, whole logs). */

async function records(ctx: CliContext): Promise<BuildRecords> {
  const engine = await ctx.engine();
  if (!engine.records) throw new TbuildError('TB_NOT_IMPLEMENTED', "build records are read from the engine's state root; through a daemon use its GET /tbuild/builds endpoint");
  return engine.records;
}

const LS_FORMAT = {
  table: 'table {{.ID}}\t{{.When}}\t{{.Duration}}\t{{.Status}}\t{{.Result}}\t{{.Steps}}',
  headers: { ID: 'BUILD ID', When: 'STARTED', Duration: 'DURATION', Status: 'STATUS', Result: 'RESULT', Steps: 'CACHED/STEPS' },
};

function addBuilds(program: Command, ctx: CliContext): void {
  const builds = program.command('builds').description('look at the records every build leaves: steps, timings, whole logs');
  builds
    .command('ls')
    .description('list recorded builds, newest first')
    .option('--format <format>', 'table, json, or a Go template')
    .action(async (f: { format?: string }) => {
      const list = await (await records(ctx)).list();
      const rows = list.map((r) => ({
        ID: r.id,
        When: `${humanDuration(Date.now() - Date.parse(r.startedAt))} ago`,
        Duration: r.durationMs === undefined ? '-' : `${(r.durationMs / 1000).toFixed(1)}s`,
        Status: r.status,
        Result: r.result ? r.result.slice(7, 19) : '-',
        Steps: `${r.stepsCached}/${r.stepsTotal}`,
      }));
      if (f.format === 'json') for (const r of list) ctx.stdout.write(`${JSON.stringify(r)}\n`);
      else ctx.stdout.write(formatList(f.format, rows, LS_FORMAT));
    });
  builds
    .command('inspect')
    .description('show one build record (ID, a unique prefix, or last)')
    .argument('<build>')
    .option('-f, --format <format>', 'format output using a Go template, or json (the default)')
    .action(async (ref: string, f: { format?: string }) => {
      const r = await (await records(ctx)).get(ref);
      ctx.stdout.write(f.format && f.format !== 'json' ? `${renderTemplate(f.format, r)}\n` : `${JSON.stringify(r, null, 2)}\n`);
    });
  builds
    .command('logs')
    .description("print a build's output, byte for byte (one step with --step)")
    .argument('<build>')
    .option('--step <n>', 'only this step (1-based, as in `builds inspect`)')
    .action(async (ref: string, f: { step?: string }) => {
      if (f.step !== undefined && !/^\d+$/.test(f.step)) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid step "${f.step}": want a step number`);
      const stream = await (await records(ctx)).logs(ref, f.step === undefined ? undefined : Number(f.step));
      for await (const chunk of stream) ctx.stdout.write(chunk as Buffer);
    });
  builds
    .command('report')
    .description('write one self-contained HTML page for a build: summary, a waterfall of its steps with the critical path, why each ran, outputs')
    .argument('<build>')
    .option('-o, --output <file>', 'write it here (default: standard output)')
    .action(async (ref: string, f: { output?: string }) => {
      const { renderReport, REPORT_LOG_LIMIT } = await import('../../records/report.js');
      const store = await records(ctx);
      const record = await store.get(ref);
      const logs = new Map<number, { text: string; cut: boolean }>();
      for (const s of record.steps) {
        if (!s.logBytes) continue;
        const chunks: Buffer[] = [];
        let got = 0;
        const stream = await store.logs(record.id, s.index);
        for await (const c of stream) {
          chunks.push(c as Buffer);
          got += (c as Buffer).length;
          if (got >= REPORT_LOG_LIMIT) break;
        }
        (stream as { destroy?: () => void }).destroy?.();
        logs.set(s.index, { text: Buffer.concat(chunks).subarray(0, REPORT_LOG_LIMIT).toString('utf8'), cut: s.logBytes > REPORT_LOG_LIMIT });
      }
      const html = renderReport({ record, logs });
      if (f.output) await writeFileAtomic(resolve(f.output), html);
      else ctx.stdout.write(html);
    });
  builds
    .command('rm')
    .description('remove build records')
    .argument('<build...>')
    .action(async (refs: string[]) => {
      const store = await records(ctx);
      for (const ref of refs) {
        await store.remove(ref);
        ctx.stdout.write(`${ref}\n`);
      }
      // a failed step's state goes with its record
      await (await ctx.engine()).dropOrphanDebugState?.();
    });
  builds
    .command('prune')
    .description('remove old build records (default: keep the newest 100 and those of the last 30 days)')
    .option('-a, --all', 'remove every finished record')
    .option('--keep <n>', 'keep this many newest records')
    .action(async (f: { all?: boolean; keep?: string }) => {
      if (f.keep !== undefined && !/^\d+$/.test(f.keep)) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid --keep "${f.keep}"`);
      const removed = await (await records(ctx)).prune({ ...(f.all ? { all: true } : {}), ...(f.keep !== undefined ? { keep: Number(f.keep), maxAgeMs: 0 } : {}) });
      if (removed.length) await (await ctx.engine()).dropOrphanDebugState?.();
      ctx.stdout.write(`Removed ${removed.length} build record${removed.length === 1 ? '' : 's'}\n`);
    });
}

export const registerBuildsCommands: RegisterCommand = (program, ctx) => addBuilds(program, ctx);
