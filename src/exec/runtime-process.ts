import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import type { TtySize } from './types.js';
import { spawnViaHelper } from '../util/spawn-server.js';

/** A runtime command started for a container or a process in one (`runc run`, `runc exec`), with its stdio. */
export interface RuntimeProcess {
  stdin?: Writable;
  stdout?: Readable;
  stderr?: Readable;
  /** How it ended, once it has and its output was read to the end. Rejects when it could not start. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  running(): boolean;
  kill(signal: NodeJS.Signals): void;
}

export interface RuntimeProcessOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  cwd?: string;
  /** Started from the spawn helper (no terminal, an absolute path): this process is not forked. */
  viaHelper: boolean;
  /** What a failure to start it becomes (a missing binary, say). */
  spawnError: (err: Error) => Error;
}

export async function startRuntimeProcess(file: string, args: readonly string[], opts: RuntimeProcessOptions): Promise<RuntimeProcess> {
  if (opts.viaHelper) {
    const child = await spawnViaHelper([file, ...args], { stdin: opts.stdin, stdout: opts.stdout, stderr: opts.stderr, ...(opts.cwd ? { cwd: opts.cwd } : {}) }).catch(
      (err: Error) => {
        throw opts.spawnError(err);
      },
    );
    let running = true;
    const ended = child.exited.finally(() => (running = false));
    const drained = (s?: Readable) => (s ? new Promise<void>((resolve) => s.once('close', () => resolve())) : Promise.resolve());
    const exited = Promise.all([ended, drained(child.stdout), drained(child.stderr)]).then(([e]) => e);
    return withStdio(child, { exited, running: () => running, kill: (signal) => child.kill(signal) });
  }
  const child = spawn(file, args, { stdio: [opts.stdin ? 'pipe' : 'ignore', opts.stdout ? 'pipe' : 'ignore', opts.stderr ? 'pipe' : 'ignore'], ...(opts.cwd ? { cwd: opts.cwd } : {}) });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', (e) => reject(opts.spawnError(e)));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  return withStdio(child, { exited, running: () => child.exitCode === null && child.signalCode === null, kill: (signal) => void child.kill(signal) });
}

/** `rest` with the streams `child` has (a caller's failure to wait on `exited` is not an unhandled one). */
function withStdio(child: { stdin?: Writable | null; stdout?: Readable | null; stderr?: Readable | null }, rest: Omit<RuntimeProcess, 'stdin' | 'stdout' | 'stderr'>): RuntimeProcess {
  rest.exited.catch(() => {});
  return {
    ...(child.stdin ? { stdin: child.stdin } : {}),
    ...(child.stdout ? { stdout: child.stdout } : {}),
    ...(child.stderr ? { stderr: child.stderr } : {}),
    ...rest,
  };
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Run the runtime under util-linux `script`, which gives it a controlling terminal. runc relays
 * between the container's pty and that outer one: it clears ONLCR on the container's pty and makes
 * its own terminal raw except for output processing (OPOST stays on), so the outer pty turns each
 * newline into CR-LF, as a Docker client sees it. The outer pty starts in that same state, so output
 * relayed before runc has set it up is translated the same way. Output the process writes before
 * runc has cleared ONLCR on the container's pty (a rare race inside runc's foreground mode) is
 * translated by both: `\r\r\n`.
 */
export function ttyWrap(runtime: string, args: string[], size?: TtySize): readonly [string, string[]] {
  // runc gives the container's pty the size of its own terminal, at start and on SIGWINCH (resizeTty)
  const dims = size && size.height > 0 && size.width > 0 ? ` rows ${Math.floor(size.height)} cols ${Math.floor(size.width)}` : '';
  const cmd = `stty raw -echo opost onlcr${dims} 2>/dev/null; exec ${[runtime, ...args].map(shellQuote).join(' ')}`;
  return ['script', ['-qefc', cmd, '/dev/null']] as const;
}

/** Hand the exec'd process's pid to `started` once runc has written it (or give up when runc ends). */
export async function reportPid(file: string, running: () => boolean, started: (pid: number) => void): Promise<void> {
  // runc writes the file once the process runs, some tens of milliseconds after the spawn
  for (let wait = 10; running(); wait = Math.min(wait * 2, 40)) {
    const text = await readFile(file, 'utf8').catch(() => '');
    if (text.trim()) {
      started(Number(text.trim()));
      return;
    }
    await new Promise((r) => setTimeout(r, wait));
  }
}
