import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The Docker CLI 26 with its buildx 0.13 plugin (Debian trixie's packages), which
 * `scripts/setup.sh` unpacks under /opt/tbuild-clients (or finds under /opt/peer-docker26).
 */
const CANDIDATES = [process.env.TBUILD_CLIENTS_DIR, '/opt/tbuild-clients', '/opt/peer-docker26'].filter((d): d is string => Boolean(d));

export function buildxClientRoot(): string {
  for (const dir of CANDIDATES) {
    if (existsSync(join(dir, 'usr/bin/docker')) && existsSync(join(dir, 'usr/libexec/docker/cli-plugins/docker-buildx'))) return dir;
  }
  throw new Error(`the Docker CLI with buildx is not installed (looked in ${CANDIDATES.join(', ')}; scripts/setup.sh fetches it)`);
}

/** A private $DOCKER_CONFIG with the buildx plugin in it. */
export function buildxConfig(dir: string): string {
  const config = join(dir, 'docker-config');
  mkdirSync(join(config, 'cli-plugins'), { recursive: true });
  const plugin = join(config, 'cli-plugins', 'docker-buildx');
  if (!existsSync(plugin)) symlinkSync(join(buildxClientRoot(), 'usr/libexec/docker/cli-plugins/docker-buildx'), plugin);
  writeFileSync(join(config, 'config.json'), '{}');
  return config;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `docker …` (CLI 26, buildx as its builder) against `host`. */
export function dockerBuildx(host: string, config: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(buildxClientRoot(), 'usr/bin/docker'), args, {
      cwd: opts.cwd,
      env: { PATH: process.env.PATH, HOME: config, DOCKER_HOST: host, DOCKER_CONFIG: config, DOCKER_CLI_HINTS: 'false', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 137 : 1), stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
  });
}
