import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import http from 'node:http';
import { PROJECT_ROOT } from '../../support/cli.js';

export interface TestDaemon {
  socket: string;
  host: string;
  root: string;
  pid: number;
  log(): string;
  stop(): Promise<void>;
}

function ping(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ socketPath: socket, path: '/_ping', timeout: 500 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
  });
}

/**
 * A real `tbuild daemon` child on `<dir>/d.sock` with its own state root `<dir>/root`; `extraHost`
 * adds a second address (e.g. TCP with TLS, with the daemon flags in `daemonArgs`).
 */
export async function startDaemon(dir: string, opts: { extraHost?: string; daemonArgs?: string[]; env?: NodeJS.ProcessEnv } = {}): Promise<TestDaemon> {
  const socket = join(dir, 'd.sock');
  const root = join(dir, 'root');
  const hosts = ['-H', `unix://${socket}`, ...(opts.extraHost ? ['-H', opts.extraHost] : [])];
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', join(PROJECT_ROOT, 'src', 'cli.ts'), ...hosts, '--root', root, 'daemon', '--shutdown-timeout', '2', ...(opts.daemonArgs ?? [])],
    { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TBUILD_HOST: '', ...opts.env } },
  );
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`daemon exited early:\n${log}`);
    if (await ping(socket)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!(await ping(socket))) {
    child.kill('SIGKILL');
    throw new Error(`daemon did not answer on ${socket}:\n${log}`);
  }
  return {
    socket,
    host: `unix://${socket}`,
    root,
    pid: child.pid!,
    log: () => log,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
