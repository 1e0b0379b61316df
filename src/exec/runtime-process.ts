import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
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
    exited.catch(() => {});
    return {
      ...(child.stdin ? { stdin: child.stdin } : {}),
      ...(child.stdout ? { stdout: child.stdout } : {}),
      ...(child.stderr ? { stderr: child.stderr } : {}),
      exited,
      running: () => running,
      kill: (signal) => child.kill(signal),
    };
  }
  const child = spawn(file, args, { stdio: [opts.stdin ? 'pipe' : 'ignore', opts.stdout ? 'pipe' : 'ignore', opts.stderr ? 'pipe' : 'ignore'], ...(opts.cwd ? { cwd: opts.cwd } : {}) });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', (e) => reject(opts.spawnError(e)));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  exited.catch(() => {});
  return {
    ...(child.stdin ? { stdin: child.stdin } : {}),
    ...(child.stdout ? { stdout: child.stdout } : {}),
    ...(child.stderr ? { stderr: child.stderr } : {}),
    exited,
    running: () => child.exitCode === null && child.signalCode === null,
    kill: (signal) => void child.kill(signal),
  };
}
