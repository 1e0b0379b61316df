import type { RegisterCommand } from '../context.js';
import { TBUILD_VERSION } from '../../defaults.js';
import { MAX_API_VERSION } from '../../api/wire/version.js';
import { renderTemplate } from '../format/index.js';

/** `tbuild version`: the client, and whoever serves it (embedded engine or daemon), as `docker version` lays it out. */
export const registerVersion: RegisterCommand = (program, ctx) => {
  program
    .command('version')
    .description('show the tbuild version information')
    .option('-f, --format <format>', 'format output using a Go template, or json')
    .action(async (opts: { format?: string }) => {
      const client = {
        Version: TBUILD_VERSION,
        ApiVersion: MAX_API_VERSION,
        NodeVersion: process.version,
        Os: 'linux',
        Arch: process.arch === 'x64' ? 'amd64' : process.arch,
      };
      const server = await (await ctx.engine()).version();
      if (opts.format) {
        const template = opts.format === 'json' ? '{{json .}}' : opts.format;
        ctx.stdout.write(renderTemplate(template, { Client: client, Server: server }) + '\n');
        return;
      }
      const row = (k: string, v: string, indent = ' ') => `${indent}${`${k}:`.padEnd(19 - indent.length + 1)}${v}\n`;
      ctx.stdout.write(
        'Client:\n' +
          row('Version', client.Version) +
          row('API version', client.ApiVersion) +
          row('Node version', client.NodeVersion) +
          row('OS/Arch', `${client.Os}/${client.Arch}`) +
          `\nServer: ${server.Where}\n Engine:\n` +
          row('Version', server.Version, '  ') +
          row('API version', `${server.ApiVersion} (minimum version ${server.MinAPIVersion})`, '  ') +
          row('OS/Arch', `${server.Os}/${server.Arch}`, '  ') +
          row('Kernel Version', server.KernelVersion, '  ') +
          server.Components.filter((c) => c.Name !== 'Engine')
            .map((c) => ` ${c.Name}:\n${row('Version', c.Version, '  ')}${c.Details?.GitCommit ? row('GitCommit', c.Details.GitCommit, '  ') : ''}`)
            .join(''),
      );
    });
};
