import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

export const DOCKER = '/usr/local/bin/docker';
export const hasDocker = existsSync(DOCKER);

export interface DockerResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the stock Docker CLI against a daemon address, isolated from the host's docker config. */
export function docker(
  host: string,
  configDir: string,
  args: string[],
  opts: { input?: string | Buffer; cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<DockerResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(DOCKER, args, {
      cwd: opts.cwd,
      env: {
        PATH: process.env.PATH,
        HOME: configDir,
        DOCKER_HOST: host,
        DOCKER_BUILDKIT: '0',
        DOCKER_CONFIG: configDir,
        DOCKER_CLI_HINTS: 'false',
        ...opts.env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 137 : 1), stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    // a CLI that exits without reading its stdin is judged by its exit code, not by our EPIPE
    child.stdin.on('error', () => {});
    if (opts.input === undefined) child.stdin.end();
    else child.stdin.end(opts.input);
  });
}

/**
 * A tty's output as the client saw it, with runc's one race undone: what a process writes before
 * runc has cleared ONLCR on its pty comes out as `\r\r\n` (see ttyWrap in src/exec/runc.ts). Tests
 * of output written later (after a sleep) compare the bytes as they are.
 */
export function ttyText(stdout: string): string {
  return stdout.replace(/\r\r\n/g, '\r\n');
}
