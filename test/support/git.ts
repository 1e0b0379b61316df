import { execFileSync, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { freePort } from './certs.js';

/** `git -C repo …` with a fixed identity and `home` as HOME (no user config leaks in). */
export function gitIn(repo: string, home: string): (...args: string[]) => string {
  const env = { PATH: process.env.PATH, HOME: home, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x' };
  return (...args) => execFileSync('git', ['-C', repo, ...args], { env }).toString().trim();
}

/** A repository on branch main with `files` in one commit; returns its git runner for more. */
export async function makeRepo(repo: string, home: string, files: Record<string, string>): Promise<(...args: string[]) => string> {
  await mkdir(repo, { recursive: true });
  const g = gitIn(repo, home);
  g('init', '-q', '-b', 'main');
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(repo, path)), { recursive: true });
    await writeFile(join(repo, path), text);
  }
  g('add', '.');
  g('commit', '-q', '-m', 'one');
  return g;
}

/**
 * `git daemon` on 127.0.0.1 serving every repository under `base` (each marked for export), ready
 * once `probe` (a repository name under `base`) answers `git ls-remote`.
 */
export async function serveGit(base: string, probe: string): Promise<{ url: (name: string) => string; stop: () => void }> {
  const port = await freePort();
  const child = spawn('git', ['daemon', '--reuseaddr', '--listen=127.0.0.1', `--port=${port}`, `--base-path=${base}`, '--export-all', base], { stdio: 'ignore' });
  const url = (name: string) => `git://127.0.0.1:${port}/${name}`;
  for (let i = 0; i < 100; i++) {
    try {
      execFileSync('git', ['ls-remote', url(probe)], { stdio: 'ignore' });
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { url, stop: () => child.kill() };
}
