import { mkdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';

import { PROJECT_ROOT } from './paths.js';

export { PROJECT_ROOT };
/** The optional kit beside the project (conformance cases, benchmarks); tests must pass without it. */
export const SHARED = join(PROJECT_ROOT, '..', 'shared');
export { BUSYBOX_TAR } from './busybox-image.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Run the tbuild CLI from source (through tsx, so tests never depend on a stale dist/).
 * `root` becomes `--root`.
 */
const TSX_LOADER = import.meta.resolve('tsx');

export function runCli(
  args: string[],
  opts: { root?: string; input?: string | Buffer; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  const full = [
    '--import',
    // resolved here, so a command run from another working directory still finds the loader
    TSX_LOADER,
    join(PROJECT_ROOT, 'src', 'cli.ts'),
    ...(opts.root ? ['--root', opts.root] : []),
    ...args,
  ];
  // A state root given here exists already, as a user's scripted set-up makes it: a new one
  // would add the CLI's "creating state root" notice to stderr (its own test passes --root itself).
  if (opts.root) mkdirSync(opts.root, { recursive: true });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, full, {
      cwd: opts.cwd ?? PROJECT_ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      });
    });
    // a command that exits without reading its stdin is judged by its exit code, not by our EPIPE
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}
