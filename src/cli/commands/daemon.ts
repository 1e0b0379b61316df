import { Option } from 'commander';
import type { RegisterCommand } from '../context.js';
import { DEFAULT_SOCKET } from '../../daemon/address.js';

interface DaemonFlags {
  tls?: boolean;
  tlsverify?: boolean;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
  shutdownTimeout?: string;
}

export const registerDaemon: RegisterCommand = (program, ctx) => {
  // -H is a global option (last one wins there); the daemon listens on every one given.
  const hosts: string[] = [];
  program.on('option:host', (value: string) => hosts.push(value));

  program
    .command('daemon')
    .description('Serve the Docker Engine API (unix socket, and TCP with TLS) on this state root')
    .addOption(new Option('--tlsverify', 'serve TCP over TLS and require client certificates signed by --tlscacert'))
    .addOption(new Option('--tls', 'same as --tlsverify (client certificates are always verified)').hideHelp())
    .option('--tlscacert <file>', 'CA that signs client certificates')
    .option('--tlscert <file>', 'server certificate')
    .option('--tlskey <file>', 'server key')
    .option('--shutdown-timeout <seconds>', 'how long a stop waits for requests in flight', '10')
    .action(async (flags: DaemonFlags) => {
      const { Daemon, validateHosts } = await import('../../daemon/server.js');
      const { servicesFor } = await import('../../daemon/services.js');
      const { TbuildError } = await import('../../errors.js');
      const list = hosts.length ? hosts : [process.env.TBUILD_HOST ?? `unix://${DEFAULT_SOCKET}`];
      const useTls = Boolean(flags.tlsverify || flags.tls);
      let tls: { ca: string; cert: string; key: string } | undefined;
      if (useTls) {
        if (!flags.tlscacert || !flags.tlscert || !flags.tlskey) {
          throw new TbuildError('TB_INVALID_ARGUMENT', '--tlsverify needs --tlscacert, --tlscert and --tlskey');
        }
        tls = { ca: flags.tlscacert, cert: flags.tlscert, key: flags.tlskey };
      }
      // Refuse a bad address before touching the state root.
      validateHosts(list, useTls);
      const engine = await ctx.engine();
      const daemon = await Daemon.start({
        hosts: list,
        root: ctx.root(),
        tls,
        services: servicesFor(engine),
        log: (line) => ctx.stderr.write(`${new Date().toISOString()} ${line}\n`),
        shutdownGraceMs: Number(flags.shutdownTimeout ?? 10) * 1000,
      });
      ctx.stderr.write(`tbuild daemon ready (pid ${process.pid}, root ${ctx.root()})\n`);
      await new Promise<void>((resolve) => {
        const stop = (sig: string) => {
          ctx.stderr.write(`${sig} received, shutting down\n`);
          process.off('SIGTERM', onTerm);
          process.off('SIGINT', onInt);
          daemon.stop().then(resolve, resolve);
        };
        const onTerm = () => stop('SIGTERM');
        const onInt = () => stop('SIGINT');
        process.on('SIGTERM', onTerm);
        process.on('SIGINT', onInt);
      });
    });
};
