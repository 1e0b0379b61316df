/** Defaults shared by the CLI and the engine, kept apart so the CLI can start without loading the engine. */
export const DEFAULT_ROOT = '/var/lib/tbuild';
export const DEFAULT_SOCKET = '/run/tbuild.sock';
/** tbuild's own version (package.json's; a test keeps them equal). */
export const TBUILD_VERSION = '0.1.0';
