import { writeStreamAtomic } from '../../util/atomic.js';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { byteMeter } from '../progress/bytes.js';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import type { CliContext, RegisterCommand } from '../context.js';
import { TbuildError } from '../../errors.js';

/** `tbuild load` and `tbuild save` (docker-archive and OCI layout tarballs), also under `image …`. */
export const registerArchiveCommands: RegisterCommand = (program, ctx) => {
  const image = program.commands.find((c) => c.name() === 'image');
  for (const parent of image ? [program, image] : [program]) {
    addLoad(parent, ctx);
    addSave(parent, ctx);
  }
};

function addLoad(parent: Command, ctx: CliContext): void {
  parent
    .command('load')
    .description('load images from a tar archive (docker save or OCI layout; plain or compressed) or STDIN')
    .option('-i, --input <file>', 'read from a tar archive file instead of STDIN')
    .option('-q, --quiet', 'suppress the progress output')
    .action(async (opts: { input?: string; quiet?: boolean }) => {
      let input: Readable;
      let total: number | undefined;
      if (opts.input) {
        input = createReadStream(opts.input);
        total = (await stat(opts.input)).size;
      } else {
        if (process.stdin.isTTY) {
          throw new TbuildError('TB_INVALID_ARGUMENT', 'requested load from stdin, but stdin is empty');
        }
        input = process.stdin;
      }
      const engine = await ctx.engine();
      const meter = byteMeter('Loading', ctx.stderr as NodeJS.WriteStream, { quiet: Boolean(opts.quiet), ...(total !== undefined ? { total } : {}) });
      input.on('error', (err) => meter.counter.destroy(err));
      const lines = await engine.load(input.pipe(meter.counter));
      meter.done();
      for (const l of lines) ctx.stdout.write(`${l}\n`);
    });
}

function addSave(parent: Command, ctx: CliContext): void {
  parent
    .command('save')
    .description('save one or more images to a tar archive (streamed to STDOUT by default)')
    .argument('<image...>')
    .option('-o, --output <file>', 'write to a file instead of STDOUT')
    .option('--format <format>', 'archive format: docker (docker load, skopeo docker-archive) or oci (OCI image layout)', 'docker')
    .action(async (refs: string[], opts: { output?: string; format: string }) => {
      if (opts.format !== 'docker' && opts.format !== 'oci') {
        throw new TbuildError('TB_INVALID_ARGUMENT', `unknown archive format ${JSON.stringify(opts.format)} (want docker or oci)`);
      }
      const format = opts.format;
      const engine = await ctx.engine();
      // the layers' sizes, each once: what the archive will about weigh (for the meter's total and ETA)
      const estimate = async (): Promise<number> => {
        const layers = new Map<string, number>();
        for (const img of await Promise.all(refs.map((r) => engine.images.resolve(r)))) {
          for (const l of img.layers) layers.set(l.diffId, format === 'oci' ? (l.compressed?.size ?? l.size) : l.size);
        }
        return [...layers.values()].reduce((a, b) => a + b, 0);
      };
      await sendArchive(ctx, opts.output, 'Saving', () => engine.save(refs, format), estimate);
    });
}

/**
 * A tar for the user (`save`, `export`): to `output` through a temp file renamed over it only
 * when complete (with a byte meter on a terminal), or to STDOUT unless that is a terminal.
 */
export async function sendArchive(ctx: CliContext, output: string | undefined, label: string, open: () => Promise<Readable>, estimate?: () => Promise<number>): Promise<void> {
  if (!output && (ctx.stdout as NodeJS.WriteStream).isTTY) {
    throw new TbuildError('TB_INVALID_ARGUMENT', 'cowardly refusing to save to a terminal. Use the -o flag or redirect');
  }
  const archive = await open();
  if (!output) {
    await pipeline(archive, ctx.stdout);
    return;
  }
  const total = (ctx.stderr as NodeJS.WriteStream).isTTY && estimate ? await estimate().catch(() => undefined) : undefined;
  const meter = byteMeter(label, ctx.stderr as NodeJS.WriteStream, total ? { total } : {});
  archive.on('error', (err) => meter.counter.destroy(err));
  await writeStreamAtomic(output, archive.pipe(meter.counter));
  meter.done();
}
