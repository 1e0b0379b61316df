import type { RegisterCommand } from '../context.js';

/**
 * The command modules and the top-level names each registers. Only the module that owns the
 * command being run is imported: every CLI call (and `docker run`-style latency) pays for what it
 * loads, and most commands need a fraction of the engine. `test/cli/commands/index.test.ts` checks
 * that these names match what the modules really register.
 */
export interface CommandModule {
  names: readonly string[];
  /** Needs every other command registered too (completion reads the whole tree). */
  loadsAll?: boolean;
  load: () => Promise<RegisterCommand>;
}

export const COMMAND_MODULES: readonly CommandModule[] = [
  { names: ['check'], load: async () => (await import('./check.js')).registerCheck },
  { names: ['outline'], load: async () => (await import('./outline.js')).registerOutline },
  { names: ['build'], load: async () => (await import('./build.js')).registerBuild },
  { names: ['builds'], load: async () => (await import('./builds.js')).registerBuildsCommands },
  { names: ['debug'], load: async () => (await import('./debug.js')).registerDebug },
  {
    names: ['image', 'import', 'images', 'inspect', 'history', 'tag', 'rmi', 'df'],
    load: async () => (await import('./images.js')).registerImageCommands,
  },
  { names: ['load', 'save'], load: async () => (await import('./archive.js')).registerArchiveCommands },
  {
    names: ['run', 'create', 'ps', 'rm', 'stop', 'restart', 'kill', 'start', 'wait', 'pause', 'unpause', 'rename', 'logs', 'top', 'exec', 'container'],
    load: async () => (await import('./containers.js')).registerContainerCommands,
  },
  { names: ['attach', 'stats', 'update'], load: async () => (await import('./container-live.js')).registerLiveContainerCommands },
  { names: ['pull', 'push', 'login', 'logout'], load: async () => (await import('./registry.js')).registerRegistryCommands },
  { names: ['cp'], load: async () => (await import('./cp.js')).registerCp },
  { names: ['export', 'diff', 'commit'], load: async () => (await import('./container-fs.js')).registerContainerFsCommands },
  { names: ['info', 'events', 'system'], load: async () => (await import('./system.js')).registerSystemCommands },
  { names: ['version'], load: async () => (await import('./version.js')).registerVersion },
  { names: ['builder'], load: async () => (await import('./builder.js')).registerBuilderCommands },
  { names: ['volume'], load: async () => (await import('./volumes.js')).registerVolumeCommands },
  { names: ['network', 'port'], load: async () => (await import('./network.js')).registerNetworkCommands },
  { names: ['completion', '__complete'], loadsAll: true, load: async () => (await import('./completion.js')).registerCompletion },
  { names: ['daemon'], load: async () => (await import('./daemon.js')).registerDaemon },
];

/** Global options that take a value, so the word after them is not the command name. */
const GLOBAL_VALUE_OPTIONS = new Set(['--root', '-H', '--host', '--runtime']);

/** The top-level command named in `argv` (node, script, …args), if any. */
export function commandName(argv: readonly string[]): string | undefined {
  const args = argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return undefined;
    if (a.startsWith('-')) {
      if (GLOBAL_VALUE_OPTIONS.has(a)) i++;
      continue;
    }
    return a;
  }
  return undefined;
}

/**
 * The registrations needed for `argv`: the owning module's alone when the command is known;
 * all of them for help, no command or an unknown one (so commander can list and suggest).
 */
export async function commandsFor(argv: readonly string[]): Promise<RegisterCommand[]> {
  const name = commandName(argv);
  const owner = name === undefined ? undefined : COMMAND_MODULES.find((m) => m.names.includes(name));
  return Promise.all((owner && !owner.loadsAll ? [owner] : COMMAND_MODULES).map((m) => m.load()));
}
