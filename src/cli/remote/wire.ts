import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import type { EngineApi } from '../../api/types.js';
import { openRemoteEngine } from './select.js';

/**
 * Remember which top-level command is running (`image ls` → `image`), so the engine opener can
 * keep local-only commands (check, outline, daemon) off the daemon.
 */
export function trackCommand(program: Command): () => string | undefined {
  let top: string | undefined;
  program.hook('preAction', (_self, action) => {
    let c: Command = action;
    while (c.parent && c.parent !== program) c = c.parent;
    top = c === program ? undefined : c.name();
  });
  return () => top;
}

export interface OpenCliEngineOptions {
  /** `-H/--host` or `$TBUILD_HOST`. */
  host: string | undefined;
  /** `--root` was given on the command line. */
  rootExplicit: boolean;
  /** The top-level command being run. */
  command: string | undefined;
  root: string;
  runtime: string;
  /** `--tls=false` given explicitly. */
  insecureTcp?: boolean;
  /** One-line notices for the user (a state root created because it did not exist). */
  notice?: (line: string) => void;
}

/** The CLI's engine: the daemon's when one is selected (see `selectTarget`), else the embedded one. */
export async function openCliEngine(opts: OpenCliEngineOptions): Promise<EngineApi> {
  const remote = await openRemoteEngine({
    host: opts.host || undefined,
    rootExplicit: opts.rootExplicit,
    command: opts.command,
    ...(opts.insecureTcp ? { insecureTcp: true } : {}),
  });
  if (remote) return remote;
  const { Engine } = await import('../../engine.js');
  // A mistyped root (--root, $TBUILD_ROOT, data-root in the settings file) would otherwise look
  // like an empty store: say that it is new, and where the name came from.
  const chosen = Engine.rootFor({ ...(opts.rootExplicit ? { root: opts.root } : {}), runtime: opts.runtime });
  const from = chosen.source;
  if (from && from !== 'default' && !existsSync(chosen.root)) {
    opts.notice?.(`tbuild: creating state root ${chosen.root} (it did not exist${from === 'flag' ? '' : `; from ${from.replace(/^env /, '$')}`})`);
  }
  // Without --root the engine settles the root itself ($TBUILD_ROOT, the settings file, the default).
  return Engine.open({ ...(opts.rootExplicit ? { root: opts.root } : {}), runtime: opts.runtime, shortLived: true });
}
