import type { Command } from 'commander';
import type { EngineApi } from '../api/types.js';
import type { ClientConfig } from './client-config.js';

/** What every command gets: the global options and a lazily opened engine. */
export interface CliContext {
  /** State root from `--root`, `$TBUILD_ROOT`, or the default. */
  root(): string;
  /** Daemon address from `-H/--host` or `$TBUILD_HOST`, if any. */
  host(): string | undefined;
  runtime(): string;
  /** Open (once) the engine: the daemon's when one is selected, else the embedded one on the state root. */
  engine(): Promise<EngineApi>;
  /** The Docker CLI's `config.json` settings for output formats and detach keys (read once). */
  readonly config: ClientConfig;
  /** Set the process exit code (commands that propagate a container's or build's status). */
  setExitCode(code: number): void;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export type RegisterCommand = (program: Command, ctx: CliContext) => void;
