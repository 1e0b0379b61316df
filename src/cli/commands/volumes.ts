import { collect } from '../options.js';
import type { RegisterCommand } from '../context.js';
import { TbuildError } from '../../errors.js';
import { table } from './images-format.js';
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
    .description('list volumes')
    .option('-q, --quiet', 'only names')
    .action(async (f: { quiet?: boolean }) => {
      const list = await (await store()).list();
      if (f.quiet) for (const v of list) ctx.stdout.write(`${v.name}\n`);
      else ctx.stdout.write(table(['DRIVER', 'VOLUME NAME'], list.map((v) => ['local', v.name])));
    });
  volume
    .command('inspect')
    .description('display detailed information on one or more volumes')
    .argument('<name...>')
    .action(async (names: string[]) => {
      const s = await store();
      const out = [];
      for (const n of names) {
        const v = await s.inspect(n);
        out.push({ CreatedAt: v.createdAt, Driver: 'local', Labels: v.labels, Mountpoint: v.mountpoint, Name: v.name, Options: null, Scope: 'local' });
      }
      ctx.stdout.write(JSON.stringify(out, null, 4) + '\n');
    });
  volume
    .command('rm')
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
    .action(async (f: { all?: boolean }) => {
      const r = await (await store()).prune({ all: Boolean(f.all) });
      if (r.deleted.length) ctx.stdout.write(`Deleted Volumes:\n${r.deleted.join('\n')}\n\n`);
      ctx.stdout.write(`Total reclaimed space: ${r.spaceReclaimed}B\n`);
    });
};
