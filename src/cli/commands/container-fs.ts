import type { RegisterCommand } from '../context.js';
import { collect } from '../options.js';
import { sendArchive } from './archive.js';
import { byteMeter, type ByteMeter } from '../progress/bytes.js';

/** Docker's letters for `docker diff`: 0 changed, 1 added, 2 deleted. */
const KIND = ['C', 'A', 'D'] as const;

/** `tbuild export`, `diff` and `commit`: a container's filesystem out as a tar, its changes, a new image. */
export const registerContainerFsCommands: RegisterCommand = (program, ctx) => {
  program
    .command('export')
    .description("export a container's filesystem as a tar archive (streamed to STDOUT by default)")
    .argument('<container>', 'container name or id')
    .option('-o, --output <file>', 'write to a file instead of STDOUT')
    .action(async (ref: string, opts: { output?: string }) => {
      const engine = await ctx.engine();
      // the whole root's size (image and changes, as `ps -s` counts it): what the tar will about weigh
      const estimate = async (): Promise<number> => {
        const c = await engine.containers.inspect(ref);
        const row = ((await engine.df()).Containers ?? []).find((x) => x.Id === c.id) as { SizeRw?: number; SizeRootFs?: number } | undefined;
        const image = (await engine.images.get(c.imageId))?.layers.reduce((a, l) => a + l.size, 0) ?? 0;
        return row?.SizeRootFs || (row?.SizeRw ?? 0) + image;
      };
      await sendArchive(ctx, opts.output, 'Exporting', () => engine.containers.export(ref), estimate);
    });

  program
    .command('diff')
    .description("inspect changes to files or directories on a container's filesystem")
    .argument('<container>', 'container name or id')
    .action(async (ref: string) => {
      const changes = await (await ctx.engine()).containers.changes(ref);
      for (const c of changes) ctx.stdout.write(`${KIND[c.Kind]} ${c.Path}\n`);
    });

  program
    .command('commit')
    .description("create a new image from a container's changes")
    .argument('<container>', 'container name or id')
    .argument('[repository]', 'name of the new image: REPOSITORY[:TAG]')
    .option('-a, --author <author>', 'author (e.g. "Jane Doe <jane@example.com>")')
    .option('-c, --change <instruction>', 'apply a Dockerfile instruction to the created image', collect, [])
    .option('-m, --message <message>', 'commit message')
    .option('-p, --pause', 'pause the container during commit (the default)', true)
    .option('--no-pause', 'do not pause the container during commit')
    .action(async (ref: string, repository: string | undefined, opts: { author?: string; change: string[]; message?: string; pause: boolean }) => {
      // on a terminal: the changes copied, then the layer written (the embedded engine reports them)
      let meter: { phase: string; m: ByteMeter } | undefined;
      const img = await (await ctx.engine()).commit(ref, {
        ...(repository ? { ref: repository } : {}),
        changes: opts.change,
        ...(opts.message ? { comment: opts.message } : {}),
        ...(opts.author ? { author: opts.author } : {}),
        pause: opts.pause,
        onProgress: (p) => {
          if (meter?.phase !== p.phase) {
            meter?.m.done();
            meter = { phase: p.phase, m: byteMeter(p.phase === 'changes' ? 'Copying changes' : 'Writing layer', ctx.stderr as NodeJS.WriteStream, p.total ? { total: p.total } : {}) };
          }
          meter.m.advance(p.bytes);
        },
      });
      meter?.m.done();
      ctx.stdout.write(`${img.id}\n`);
    });
};
