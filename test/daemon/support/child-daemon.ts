import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../support/cli.js';
import { docker, type DockerResult } from './docker.js';

export interface ChildDaemon {
  child: ChildProcess;
  host: string;
  socket: string;
  root: string;
  log(): string;
  docker(args: string[], opts?: { input?: string | Buffer; cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv }): Promise<DockerResult>;
  /** SIGTERM and wait; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** `tbuild daemon` as a child process on `<dir>/d.sock` with state root `<dir>/root`. */
export async function startChildDaemon(dir: string, extraArgs: string[] = [], env?: NodeJS.ProcessEnv): Promise<ChildDaemon> {
  const socket = join(dir, 'd.sock');
  const root = join(dir, 'root');
  const configDir = join(dir, 'docker-config');
  await mkdir(configDir, { recursive: true });
  const child = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'src', 'cli.ts'), 'daemon', '-H', `unix://${socket}`, '--root', root, ...extraArgs], {
    cwd: PROJECT_ROOT,
    ...(env ? { env: { ...process.env, ...env } } : {}),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 30_000;
  while (!log.includes('daemon ready')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`daemon did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const host = `unix://${socket}`;
  return {
    child,
    host,
    socket,
    root,
    log: () => log,
    docker: (args, opts) => docker(host, configDir, args, opts),
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const code = await exited;
      return code;
    },
  };
}

export const socketExists = (p: string) => existsSync(p);
