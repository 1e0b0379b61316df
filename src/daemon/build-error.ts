import { TbuildError } from '../errors.js';

/**
 * The classic builder's failure text and code. A failing RUN reads
 * `The command '/bin/sh -c exit 3' returned a non-zero code: 3` and its code is the exit code
 * (the Docker CLI exits with it); anything else keeps its message with code 1.
 */
export function buildFailure(err: unknown): { message: string; code: number } {
  if (err instanceof TbuildError) {
    const exitCode = findExitCode(err);
    if (exitCode !== undefined) {
      const command = findCommand(err);
      if (command) return { message: `The command '${command}' returned a non-zero code: ${exitCode}`, code: exitCode };
      return { message: err.message, code: exitCode };
    }
    return { message: err.message, code: 1 };
  }
  return { message: err instanceof Error ? err.message : String(err), code: 1 };
}

function findExitCode(err: TbuildError): number | undefined {
  for (let e: unknown = err; e instanceof Error; e = (e as Error).cause) {
    if (e instanceof TbuildError && typeof e.details.exitCode === 'number' && e.details.exitCode > 0) return e.details.exitCode;
  }
  return undefined;
}

function findCommand(err: TbuildError): string | undefined {
  for (let e: unknown = err; e instanceof Error; e = (e as Error).cause) {
    if (!(e instanceof TbuildError)) continue;
    const c = e.details.command ?? e.details.args ?? e.details.cmd;
    if (Array.isArray(c) && c.every((x) => typeof x === 'string')) return c.join(' ');
    if (typeof c === 'string' && c) return c;
    // The solver's own wording names the command: `process "/bin/sh -c exit 3" did not complete…`
    const m = /process ("(?:[^"\\]|\\.)*") did not complete successfully/s.exec(e.message);
    if (m) return JSON.parse(m[1]!) as string;
  }
  return undefined;
}
