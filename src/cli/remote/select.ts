import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { EngineApi } from '../../api/types.js';
import { DEFAULT_SOCKET } from '../../api/wire/address.js';
import { isTbuildError, TbuildError } from '../../errors.js';
import { RemoteEngine } from './engine.js';
import type { TlsFiles } from './client.js';

/** Commands that never go through a daemon: they read only local files, or are the daemon. */
export const LOCAL_COMMANDS: ReadonlySet<string> = new Set(['check', 'outline', 'daemon']);

/** How long the default socket gets to answer `_ping` before we fall back to embedded. */
export const PROBE_MS = 200;

export interface SelectInput {
  /** `-H/--host` or `$TBUILD_HOST`. */
  host?: string;
  /** `--root` was given on the command line: the user named a local state root. */
  rootExplicit: boolean;
  /** The top-level command being run (`images`, `image`, `daemon`, …). */
  command?: string;
  env?: NodeJS.ProcessEnv;
  /** `--tls=false` given explicitly: plain TCP accepted (with a loud warning). */
  insecureTcp?: boolean;
  /** Where the warning goes (default stderr). */
  warn?: (text: string) => void;
}

/** Printed when the user explicitly asks for plain TCP (`--tls=false`). */
export const INSECURE_CLIENT_WARNING =
  'WARNING: talking to the tbuild daemon over plain TCP (--tls=false): anyone on the path can read and change\n' +
  'WARNING: every request, and the daemon runs containers as root. Use TLS (--tlsverify, $TBUILD_CERT_PATH) instead.\n';


export type EngineTarget = { kind: 'embedded' } | { kind: 'remote'; host: string; explicit: boolean };

/** `$TBUILD_DEFAULT_SOCKET` (tests) or /run/tbuild.sock. */
export function defaultSocket(env: NodeJS.ProcessEnv = process.env): string {
  return env.TBUILD_DEFAULT_SOCKET || DEFAULT_SOCKET;
}

/** Client TLS from `$TBUILD_CERT_PATH` (ca.pem, cert.pem, key.pem, as DOCKER_CERT_PATH) or `$TBUILD_TLS_VERIFY`. */
export function tlsFromEnv(env: NodeJS.ProcessEnv = process.env): TlsFiles | undefined {
  const dir = env.TBUILD_CERT_PATH;
  if (!dir && !env.TBUILD_TLS_VERIFY) return undefined;
  if (!dir) return {};
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
}

/**
 * Which engine a command talks to (issue #5): the daemon named by `-H`/`$TBUILD_HOST`; else
 * embedded when `--root` names a state root; else the daemon on the default socket when it
 * exists and answers `_ping` within PROBE_MS; else embedded. Local-only commands are embedded.
 */
export async function selectTarget(input: SelectInput): Promise<EngineTarget> {
  if (input.command && LOCAL_COMMANDS.has(input.command)) return { kind: 'embedded' };
  if (input.host) return { kind: 'remote', host: input.host, explicit: true };
  if (input.rootExplicit) return { kind: 'embedded' };
  const sock = defaultSocket(input.env);
  const st = await stat(sock).catch(() => undefined);
  if (!st?.isSocket()) return { kind: 'embedded' };
  return { kind: 'remote', host: `unix://${sock}`, explicit: false };
}

/**
 * Open the daemon's engine when the selection says so; `undefined` means run embedded.
 * An explicit address that does not answer is an error; a default socket that does not answer
 * in time (a stale file, a hung daemon) quietly falls back to embedded.
 */
export async function openRemoteEngine(input: SelectInput): Promise<EngineApi | undefined> {
  const target = await selectTarget(input);
  if (target.kind === 'embedded') return undefined;
  const env = input.env ?? process.env;
  const tls = tlsFromEnv(env);
  if (!tls && /^tcp:\/\//.test(target.host)) {
    if (!input.insecureTcp) {
      throw new TbuildError(
        'TB_INSECURE_TRANSPORT',
        `refusing to talk to ${target.host} without TLS: the daemon's API is root on its machine; set $TBUILD_CERT_PATH (ca.pem, cert.pem, key.pem) or use https://, or pass --tls=false to accept the risk`,
      );
    }
    (input.warn ?? ((t: string) => process.stderr.write(t)))(INSECURE_CLIENT_WARNING);
  }
  try {
    const remote = await RemoteEngine.connect({ host: target.host, ...(tls ? { tls } : {}), timeoutMs: target.explicit ? 10_000 : PROBE_MS });
    const engine: EngineApi = remote;
    return engine;
  } catch (err) {
    if (!target.explicit) return undefined;
    if (isTbuildError(err)) throw err;
    throw new TbuildError('TB_DAEMON_UNREACHABLE', `Cannot connect to the tbuild daemon at ${target.host}: ${(err as Error).message}`, { cause: err });
  }
}
