import { Command, Help, CommanderError } from 'commander';
import { resolve } from 'node:path';
import type { CliContext } from './context.js';
import type { EngineApi } from '../api/types.js';
import { DEFAULT_ROOT, TBUILD_VERSION } from '../defaults.js';
import { renderError } from './render-error.js';
import { commandName, commandsFor } from './commands/index.js';
import { lendToGroups } from './commands/groups.js';
import { openCliEngine, trackCommand } from './remote/wire.js';
import { readClientConfig, type ClientConfig } from './client-config.js';

/** `--tls=false` (or `--tls false`): only an explicit false counts. */
export function isFalse(v: unknown): boolean {
  return v === 'false' || v === '0';
}

/** Docker's hint after a usage error (unknown flag, missing argument): where the help is. */
function pointToHelp(cmd: Command, path: string): void {
  cmd.showHelpAfterError(`See '${path} --help'.`);
  for (const sub of cmd.commands) pointToHelp(sub, `${path} ${sub.name()}`);
}

export async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  let engine: EngineApi | undefined;
  const program = new Command('tbuild')
    .description('A BuildKit-class Dockerfile build engine with its own runtime')
    .option('--root <dir>', 'state root (default: $TBUILD_ROOT or /var/lib/tbuild)')
    .option('-H, --host <addr>', 'daemon address, e.g. unix:///run/tbuild.sock (default: $TBUILD_HOST)')
    .option('--runtime <path>', 'low-level OCI runtime binary', process.env.TBUILD_RUNTIME ?? 'runc')
    .option('--tls [bool]', 'TLS for a tcp:// daemon (default on; --tls=false allows plain TCP, insecure)')
    .option('--debug', 'print stack traces')
    .version(`tbuild version ${TBUILD_VERSION}, node ${process.versions.node}`, '-v, --version', 'print version information and quit')
    .showSuggestionAfterError(true)
    // a repeatable flag starts as an empty list: "(default: [])" says nothing to a reader
    .configureHelp({
      optionDescription(option) {
        const empty = Array.isArray(option.defaultValue) && option.defaultValue.length === 0;
        return empty ? option.description : new Help().optionDescription(option);
      },
    })
    // Docker's rule: options after the command's operands belong to the operands
    // (`tbuild run busybox ls -l`), so global options go before the subcommand.
    .enablePositionalOptions()
    .exitOverride();
  // Which top-level command runs: check, outline and daemon never go through a daemon.
  const currentCommand = trackCommand(program);

  let clientConfig: ClientConfig | undefined;
  const ctx: CliContext = {
    get config() {
      clientConfig ??= readClientConfig();
      return clientConfig;
    },
    root: () => resolve(program.opts().root ?? process.env.TBUILD_ROOT ?? DEFAULT_ROOT),
    host: () => program.opts().host ?? process.env.TBUILD_HOST,
    runtime: () => program.opts().runtime,
    engine: async () => {
      // The daemon's engine when -H/$TBUILD_HOST names one or the default socket answers (not with
      // --root), else the embedded one (issue #5).
      engine ??= await openCliEngine({
        host: ctx.host(),
        rootExplicit: program.opts().root !== undefined,
        command: currentCommand(),
        root: ctx.root(),
        runtime: ctx.runtime(),
        insecureTcp: isFalse(program.opts().tls),
        // on stderr whatever it is: a mistyped --root in a script deserves the line as much
        notice: (line: string) => ctx.stderr.write(`${line}\n`),
      });
      return engine;
    },
    setExitCode: (code) => {
      exitCode = code;
    },
    stdout: process.stdout,
    stderr: process.stderr,
  };
  for (const register of await commandsFor(argv)) register(program, ctx);
  const name = commandName(argv);
  await lendToGroups(program, ctx, name === 'completion' ? undefined : name);
  pointToHelp(program, 'tbuild');

  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version are "errors" to commander; their exit code is 0
      return err.exitCode;
    }
    process.stderr.write(renderError(err, { debug: Boolean(program.opts().debug) }));
    return exitCode || 1;
  } finally {
    await engine?.close().catch(() => {});
  }
  return exitCode;
}
