import { collect } from '../options.js';
import { checkFilterNames, filtersFromFlags, PRUNE_FILTERS } from '../../util/filters.js';
import { askYesNo } from './images-df.js';
import { selectNetworks } from '../../api/networks.js';
import type { CliContext, RegisterCommand } from '../context.js';
import type { NetworkApi } from '../../api/types.js';
import { TbuildError } from '../../errors.js';
import { formatList, Template } from '../format/index.js';
import { eachContainer, manager } from './containers.js';
import { formatPort } from '../../network/ports.js';

async function networks(ctx: CliContext): Promise<NetworkApi> {
  const n = (await ctx.engine()).networks;
  if (!n) throw new TbuildError('TB_NETWORK_BACKEND_MISSING', 'this engine has no network manager');
  return n;
}

const labelsOf = (list: string[]) => Object.fromEntries(list.map((l) => [l.split('=')[0]!, l.split('=').slice(1).join('=')]));

/** `tbuild network …` and `tbuild port`, in Docker's words and output formats. */
export const registerNetworkCommands: RegisterCommand = (program, ctx) => {
  const network = program.command('network').description('manage networks');
  network
    .command('create')
    .addHelpText('after', '\nExamples:\n  tbuild network create backend\n  tbuild network create --subnet 10.240.7.0/24 --internal private\n  tbuild run -d --network backend --name db busybox sleep 1d\n')
    .description('create a network')
    .argument('<name>')
    .option('-d, --driver <driver>', 'driver to manage the network (only bridge)', 'bridge')
    .option('--subnet <cidr>', 'IPv4 subnet (default: a free /24)')
    .option('--gateway <ip>', 'gateway address (default: the first of the subnet)')
    .option('--internal', 'no route out of the network')
    .option('--label <k=v>', 'set a label', collect, [])
    .option('--ipv6', 'IPv6 (refused: not supported)')
    .option('-o, --opt <k=v>', 'driver option (refused: none supported)', collect, [])
    .action(async (name: string, f: { driver: string; subnet?: string; gateway?: string; internal?: boolean; label: string[]; ipv6?: boolean; opt: string[] }) => {
      if (f.driver !== 'bridge') throw new TbuildError('TB_INVALID_ARGUMENT', `network driver ${f.driver} is not supported (only bridge)`);
      if (f.ipv6) throw new TbuildError('TB_NOT_IMPLEMENTED', '--ipv6 is not supported');
      if (f.opt.length) throw new TbuildError('TB_NOT_IMPLEMENTED', `driver options are not supported: ${f.opt.join(', ')}`);
      const r = await (await networks(ctx)).create({
        name,
        ...(f.subnet ? { subnet: f.subnet } : {}),
        ...(f.gateway ? { gateway: f.gateway } : {}),
        ...(f.internal ? { internal: true } : {}),
        ...(f.label.length ? { labels: labelsOf(f.label) } : {}),
      });
      ctx.stdout.write(`${r.Id}\n`);
    });
  network
    .command('ls')
    .description('list networks')
    .alias('list')
    .option('-q, --quiet', 'only display network IDs')
    .option('--no-trunc', 'do not truncate output')
    .option('--format <format>', 'table, json, or a Go template')
    .option('-f, --filter <filter>', 'filter output based on conditions provided (driver, id, label, name, scope, type, dangling)', collect, [])
    .action(async (f: { quiet?: boolean; trunc?: boolean; format?: string; filter: string[] }) => {
      // sorted by name, as Docker's CLI lists them
      const list = selectNetworks(await (await networks(ctx)).list(), filtersFromFlags(f.filter)).sort((a, b) => String(a.Name).localeCompare(String(b.Name)));
      const id = (n: Record<string, unknown>) => (f.trunc === false ? String(n.Id) : String(n.Id).slice(0, 12));
      if (f.quiet) for (const n of list) ctx.stdout.write(`${id(n)}\n`);
      else {
        // Docker's network ls row (what `{{json .}}` prints), not the whole inspect object
        const rows = list.map((n) => ({
          Name: String(n.Name),
          Driver: String(n.Driver),
          Scope: String(n.Scope ?? 'local'),
          ID: id(n),
          IPv6: Boolean(n.EnableIPv6),
          Internal: Boolean(n.Internal),
          CreatedAt: String(n.Created ?? ''),
          Labels: Object.entries((n.Labels ?? {}) as Record<string, string>)
            .map(([k, v]) => `${k}=${v}`)
            .join(','),
          Label: (key: string) => ((n.Labels ?? {}) as Record<string, string>)[key] ?? '',
        }));
        ctx.stdout.write(
          formatList(f.format, rows, {
            table: 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}',
            headers: { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', IPv6: 'IPV6', Internal: 'INTERNAL', Labels: 'LABELS', CreatedAt: 'CREATED AT' },
          }),
        );
      }
    });
  network
    .command('inspect')
    .description('display detailed information on one or more networks')
    .argument('<network...>')
    .option('-f, --format <format>', 'format output using a Go template, or json')
    .action(async (refs: string[], f: { format?: string }) => {
      const api = await networks(ctx);
      const found = [];
      for (const r of refs) found.push(await api.inspect(r));
      if (f.format && f.format !== 'json') {
        const template = new Template(f.format);
        for (const n of found) ctx.stdout.write(`${template.render(n)}\n`);
      }
      else ctx.stdout.write(JSON.stringify(found, null, 4) + '\n');
    });
  network
    .command('rm')
    .description('remove one or more networks')
    .alias('remove')
    .argument('<network...>')
    .action(async (refs: string[]) => {
      const api = await networks(ctx);
      await eachContainer(ctx, refs, async (r) => {
        await api.remove(r);
        return r;
      });
    });
  network
    .command('prune')
    .description('remove all unused networks')
    .option('-f, --force', 'do not prompt for confirmation')
    .option('--filter <filter>', 'provide filter values (e.g. "until=<timestamp>")', collect, [])
    .action(async (f: { force?: boolean; filter: string[] }) => {
      const filters = filtersFromFlags(f.filter);
      checkFilterNames(filters, PRUNE_FILTERS);
      if (!f.force && !(await askYesNo(ctx, 'WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] '))) return;
      const deleted = await (await networks(ctx)).prune(filters);
      if (deleted.length) ctx.stdout.write(`Deleted Networks:\n${deleted.join('\n')}\n\n`);
    });
  network
    .command('connect')
    .description('connect a container to a network')
    .argument('<network>')
    .argument('<container>')
    .option('--alias <name>', 'DNS alias on the network', collect, [])
    .option('--ip <address>', 'IPv4 address on the network')
    .option('--link <name>', 'legacy link (refused)', collect, [])
    .action(async (net: string, container: string, f: { alias: string[]; ip?: string; link: string[] }) => {
      if (f.link.length) throw new TbuildError('TB_NOT_IMPLEMENTED', '--link is not supported: containers on a user network resolve each other by name');
      await (await manager(ctx)).connectNetwork(container, net, { ...(f.alias.length ? { aliases: f.alias } : {}), ...(f.ip ? { ip: f.ip } : {}) });
    });
  network
    .command('disconnect')
    .description('disconnect a container from a network')
    .argument('<network>')
    .argument('<container>')
    .option('-f, --force', 'force the container to disconnect from the network')
    .action(async (net: string, container: string) => {
      await (await manager(ctx)).disconnectNetwork(container, net);
    });

  program
    .command('port')
    .description("list a container's published ports")
    .argument('<container>')
    .argument('[port]', 'PORT[/PROTO]')
    .action(async (ref: string, port: string | undefined) => {
      const c = await (await manager(ctx)).inspect(ref);
      const lines: string[] = [];
      for (const p of c.network?.ports ?? []) for (let i = 0; i < p.range; i++) lines.push(formatPort(p, i));
      if (port) {
        const key = port.includes('/') ? port : `${port}/tcp`;
        const hits = lines.filter((l) => l.startsWith(`${key} -> `)).map((l) => l.slice(key.length + 4));
        if (!hits.length) throw new TbuildError('TB_INVALID_ARGUMENT', `No public port '${key}' published for ${ref}`);
        ctx.stdout.write(hits.join('\n') + '\n');
        return;
      }
      if (lines.length) ctx.stdout.write(lines.join('\n') + '\n');
    });
};


/** Docker's `network ls --filter` names; any other is refused by name. */
