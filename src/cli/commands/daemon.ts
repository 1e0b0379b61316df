import { resolve } from 'node:path';
import { Option } from 'commander';
import type { RegisterCommand } from '../context.js';
import { DEFAULT_SOCKET } from '../../api/wire/address.js';

interface DaemonFlags {
  host?: string[];
  root?: string;
  tls?: boolean | string;
  tlsverify?: boolean;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
  shutdownTimeout?: string;
  accessLog?: boolean;
  allowInsecureEntitlement?: string[];
}

export const registerDaemon: RegisterCommand = (program, ctx) => {
  // -H is also a global option (last one wins there): collect every one given before `daemon`,
  // and take the daemon's own repeatable -H/--root after it.
  const hosts: string[] = [];
  program.on('option:host', (value: string) => hosts.push(value));
  const collect = (value: string, prev: string[] = []) => [...prev, value];

  program
    .command('daemon')
    .description('serve the Docker Engine API (unix socket, and TCP with TLS) on this state root')
    .option('-H, --host <addr>', 'listen address, repeatable: unix:///path or tcp://host:port (default unix:///run/tbuild.sock)', collect)
    .option('--root <dir>', 'state root (default: the global --root, $TBUILD_ROOT or /var/lib/tbuild)')
    .addOption(new Option('--tlsverify', 'serve TCP over TLS and require client certificates signed by --tlscacert'))
    .addOption(new Option('--tls [bool]', 'TLS for tcp:// listeners (default: required; --tls=false allows plain TCP, insecure)'))
    .option('--tlscacert <file>', 'CA that signs client certificates')
    .option('--tlscert <file>', 'server certificate')
    .option('--tlskey <file>', 'server key')
    .option('--allow-insecure-entitlement <name>', 'let builds that ask for it use an entitlement (security.insecure)', collect)
    .option('--access-log', 'log every request with its status and duration')
    .option('--shutdown-timeout <seconds>', 'how long a stop waits for requests in flight', '10')
    .option('--insecure-registry <host>', 'registry (host[:port] or CIDR) reached over plain HTTP or unverified TLS; repeatable (loopback always is)', collect)
    .option('--config-file <file>', 'settings in Docker daemon.json keys (default: $TBUILD_CONFIG, else /etc/tbuild/daemon.json when it exists)')
    .option('--buildkit-addr <addr>', "also serve BuildKit's API on tcp://HOST:PORT (mutual TLS with --tlscacert/--tlscert/--tlskey) or unix:///path, for buildx's remote driver; repeatable", collect)
    .option('--registry-mirror <url>', 'mirror for docker.io pulls, tried before docker.io; repeatable', collect)
    .action(async (flags: DaemonFlags) => {
      const { Daemon, validateHosts } = await import('../../daemon/server.js');
      const { servicesFor } = await import('../../daemon/services.js');
      const { TbuildError } = await import('../../errors.js');
      const { parseEntitlement } = await import('../../exec/security/entitlements.js');
      const { loadDaemonConfig } = await import('../../config/daemon-json.js');
      const configFile = (flags as { configFile?: string }).configFile;
      // Flags win over the file, as dockerd's: a listen address or TLS file given both ways is the flag's.
      const file = loadDaemonConfig(configFile, process.env);
      const fromFile = `file ${file?.file ?? ''}`;
      const tlsSource = flags.tls !== undefined || flags.tlsverify !== undefined ? 'flag' : file?.tls !== undefined || file?.tlsverify !== undefined ? fromFile : 'default';
      flags.tlsverify ??= file?.tlsverify;
      if (flags.tls === undefined && file?.tls !== undefined) flags.tls = file.tls ? true : 'false';
      flags.tlscacert ??= file?.tlscacert;
      flags.tlscert ??= file?.tlscert;
      flags.tlskey ??= file?.tlskey;
      const given = [...hosts, ...(flags.host ?? [])];
      const list = given.length ? given : process.env.TBUILD_HOST ? [process.env.TBUILD_HOST] : (file?.hosts ?? [`unix://${DEFAULT_SOCKET}`]);
      const hostsSource = given.length ? 'flag' : process.env.TBUILD_HOST ? 'env TBUILD_HOST' : file?.hosts ? fromFile : 'default';
      // --tls alone means --tlsverify (client certificates are always verified); only an explicit
      // --tls=false allows plain TCP.
      const insecureTcp = flags.tls === 'false' || flags.tls === '0';
      if (insecureTcp && flags.tlsverify) throw new TbuildError('TB_INVALID_ARGUMENT', '--tls=false conflicts with --tlsverify');
      const useTls = Boolean(flags.tlsverify || (flags.tls !== undefined && !insecureTcp));
      let tls: { ca: string; cert: string; key: string } | undefined;
      if (useTls) {
        if (!flags.tlscacert || !flags.tlscert || !flags.tlskey) {
          throw new TbuildError('TB_INVALID_ARGUMENT', '--tlsverify needs --tlscacert, --tlscert and --tlskey');
        }
        tls = { ca: flags.tlscacert, cert: flags.tlscert, key: flags.tlskey };
      }
      // Refuse a bad address before touching the state root.
      validateHosts(list, useTls, insecureTcp);
      if (insecureTcp && list.some((h) => h.startsWith('tcp://'))) {
        ctx.stderr.write(
          '\n' +
            '!!! WARNING: --tls=false: the API will listen on plain TCP. Anyone who can connect to it (every local user,\n' +
            '!!! for a loopback address) can run containers as root and so owns this machine. Use --tlsverify instead.\n\n',
        );
      }
      const root = flags.root ? resolve(flags.root) : ctx.root();
      const { Engine } = await import('../../engine.js');
      const { insecureRegistry: insecure, registryMirror: mirrors } = flags as { insecureRegistry?: string[]; registryMirror?: string[] };
      const registry = { ...(insecure?.length ? { insecure } : {}), ...(mirrors?.length ? { mirrors } : {}) };
      const engine = await Engine.open({
        ...(flags.root || program.opts().root ? { root } : {}),
        runtime: ctx.runtime(),
        ...(configFile ? { configFile } : {}),
        ...(Object.keys(registry).length ? { registry } : {}),
      });
      // the bridge stays up while the daemon runs (in the background: nothing waits for it)
      const bridgeHeld = engine.network?.holdDefaultBridge?.().catch((err: unknown) => {
        ctx.stderr.write(`${new Date().toISOString()} warning: cannot hold the default bridge: ${(err as Error).message}\n`);
        return undefined;
      });
      const buildkitAddrs = (flags as { buildkitAddr?: string[] }).buildkitAddr ?? [];
      // The BuildKit listener takes the daemon's certificates: TCP is mutual TLS or refused.
      const buildkitTls = flags.tlscacert && flags.tlscert && flags.tlskey ? { ca: flags.tlscacert, cert: flags.tlscert, key: flags.tlskey } : undefined;
      for (const a of buildkitAddrs) {
        if (a.startsWith('tcp://') && !(flags.tlsverify && buildkitTls)) {
          throw new TbuildError('TB_INVALID_ARGUMENT', `refusing to serve BuildKit's API on ${a} without mutual TLS: give --tlsverify --tlscacert --tlscert --tlskey`);
        }
      }
      const services = {
        ...servicesFor(engine, {
          allowedEntitlements: (flags.allowInsecureEntitlement ?? []).map(parseEntitlement),
          ...(flags.accessLog ? { log: (line: string) => ctx.stderr.write(`${new Date().toISOString()} ${line}\n`) } : {}),
        }),
        settingSources: { hosts: hostsSource, tls: tlsSource },
        ...(insecureTcp && list.some((h) => h.startsWith('tcp://'))
          ? { warnings: ['WARNING: API is accessible on plain TCP without encryption (--tls=false): anyone who can connect owns this machine'] }
          : {}),
      };
      const daemon = await Daemon.start({
        hosts: list,
        root: engine.root,
        tls,
        insecureTcp,
        services,
        log: (line) => ctx.stderr.write(`${new Date().toISOString()} ${line}\n`),
        shutdownGraceMs: Number(flags.shutdownTimeout ?? 10) * 1000,
        accessLog: Boolean(flags.accessLog),
      });
      for (const a of buildkitAddrs) {
        const l = await services.buildkit!.listen(a, buildkitTls);
        ctx.stderr.write(`${new Date().toISOString()} BuildKit API listen on ${l.address}\n`);
      }
      // Last line of defence: a stream error some module left unhandled while serving one request
      // must not take down every other client (and the containers' event feed) with it.
      const onUncaught = (err: unknown) => ctx.stderr.write(`${new Date().toISOString()} internal error (request aborted): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.on('uncaughtException', onUncaught);
      process.on('unhandledRejection', onUncaught);
      ctx.stderr.write(`tbuild daemon ready (pid ${process.pid}, root ${engine.root}${file ? `, settings ${file.file}` : ''})\n`);
      await new Promise<void>((resolve) => {
        const stop = (sig: string) => {
          ctx.stderr.write(`${sig} received, shutting down\n`);
          process.off('SIGTERM', onTerm);
          process.off('SIGINT', onInt);
          process.off('uncaughtException', onUncaught);
          process.off('unhandledRejection', onUncaught);
          daemon
            .stop()
            .then(async () => (await bridgeHeld)?.())
            .then(() => (flags.root ? engine.close() : undefined))
            .catch((err: unknown) => ctx.stderr.write(`error while stopping: ${String(err)}\n`))
            .then(() => {
              ctx.stderr.write('tbuild daemon stopped\n');
              // Background watchers of other modules may still hold the event loop; the daemon's
              // work is done and containers live on in their shims, so leave now.
              setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref();
              resolve();
            });
        };
        const onTerm = () => stop('SIGTERM');
        const onInt = () => stop('SIGINT');
        process.on('SIGTERM', onTerm);
        process.on('SIGINT', onInt);
      });
    });
};
