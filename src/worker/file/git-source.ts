import { execFile } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TbuildError } from '../../errors.js';
import { resolveInRoot } from '../../util/confine.js';
import { sha256 } from '../../util/digest.js';
import { oncePerBuild } from './once-per-build.js';

const run = promisify(execFile);

/** A git source as BuildKit writes it: `REMOTE[#REF[:SUBDIR]]`. */
export interface GitSource {
  remote: string;
  ref?: string;
  subdir?: string;
}

/**
 * `git://…`, `git@host:path`, `ssh://…`, or an http(s) URL whose path ends in `.git` (BuildKit's
 * test), each with an optional `#ref:subdir`.
 */
export function parseGitSource(src: string): GitSource | undefined {
  const hash = src.indexOf('#');
  const remote = hash < 0 ? src : src.slice(0, hash);
  const fragment = hash < 0 ? '' : src.slice(hash + 1);
  const httpGit = (): boolean => {
    try {
      return /\.git\/?$/.test(new URL(remote).pathname);
    } catch {
      return false;
    }
  };
  const isGit = /^git:\/\//i.test(remote) || /^git@[^:]+:/.test(remote) || /^ssh:\/\//i.test(remote) || (/^https?:\/\//i.test(remote) && httpGit());
  if (!isGit) return undefined;
  const [ref, subdir] = fragment ? [fragment.split(':')[0], fragment.split(':').slice(1).join(':')] : [undefined, undefined];
  return { remote, ...(ref ? { ref } : {}), ...(subdir ? { subdir } : {}) };
}

async function git(args: string[], what: string, cwd?: string): Promise<string> {
  try {
    const { stdout } = await run('git', args, {
      ...(cwd ? { cwd } : {}),
      // never ask for a password on a terminal, never read the user's git config
      // the clone is scratch (only its files are kept, in a layer): no fsync of what git fetches
      env: { PATH: process.env.PATH, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', HOME: '/nonexistent', GIT_SSH_COMMAND: 'ssh -o BatchMode=yes', GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'core.fsync', GIT_CONFIG_VALUE_0: 'none' },
      maxBuffer: 16 << 20,
      timeout: 300_000,
    });
    return stdout;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new TbuildError('TB_INTERNAL', 'git is not installed (apt-get install git; scripts/setup.sh does it)');
    throw new TbuildError('TB_ADD_GIT', `${what}: ${(e.stderr ?? e.message).trim().split('\n').pop()}`, { cause: err });
  }
}

/** The commit `ref` (default the remote's HEAD) names now: what keys the step. */
export async function resolveGitCommit(src: GitSource): Promise<string> {
  const ref = src.ref ?? 'HEAD';
  if (/^[0-9a-f]{40}$/.test(ref)) return ref;
  const out = await git(['ls-remote', '--', src.remote, ref, `refs/tags/${ref}^{}`], `git ls-remote ${src.remote} ${ref}`);
  const lines = out.trim().split('\n').filter(Boolean).map((l) => l.split('\t') as [string, string]);
  // an annotated tag's commit (`^{}`) wins over the tag object
  const found = lines.find(([, name]) => name.endsWith('^{}')) ?? lines.find(([, name]) => name === ref || name === `refs/heads/${ref}` || name === `refs/tags/${ref}`) ?? lines[0];
  if (!found) throw new TbuildError('TB_ADD_GIT', `${src.remote}: no ref ${ref}`);
  return found[0];
}

/**
 * A shallow checkout of exactly `commit` in a fresh directory under `tmp`; returns the directory to
 * copy from (the subdir, confined to the checkout). `.git` is removed unless kept.
 */
export async function checkoutGit(src: GitSource, commit: string, tmp: string, keepGitDir: boolean): Promise<string> {
  const dir = join(tmp, `git-${sha256(`${src.remote}#${commit}`).slice(7, 23)}-${Math.random().toString(16).slice(2, 8)}`);
  await mkdir(dir, { recursive: true });
  const what = `git fetch ${src.remote} ${src.ref ?? 'HEAD'}`;
  await git(['init', '-q'], what, dir);
  await git(['fetch', '-q', '--depth', '1', '--', src.remote, commit], what, dir).catch(async () =>
    // servers that do not allow fetching a commit by id: fetch the ref, then check it is that commit
    git(['fetch', '-q', '--depth', '1', '--', src.remote, src.ref ?? 'HEAD'], what, dir),
  );
  // files written by as many workers as there are CPUs (git ≥ 2.32; an older git ignores the key)
  await git(['-c', 'checkout.workers=0', 'checkout', '-q', commit], what, dir);
  // git takes ~0.1 s to find there is nothing to update: ask only when the commit names submodules
  if (existsSync(join(dir, '.gitmodules'))) await git(['submodule', 'update', '--init', '--recursive', '--depth', '1'], `git submodule update in ${src.remote}`, dir);
  if (!keepGitDir) await rm(join(dir, '.git'), { recursive: true, force: true });
  return src.subdir ? resolveInRoot(dir, src.subdir) : dir;
}

/** One resolution and one checkout per source per build: the cache key and the copy share them. */
export function resolveGitOnce(build: object, src: GitSource): Promise<string> {
  return oncePerBuild(build, `resolve\0${src.remote}\0${src.ref ?? ''}`, () => resolveGitCommit(src));
}

export function checkoutGitOnce(build: object, src: GitSource, commit: string, tmp: string, keepGitDir: boolean): Promise<string> {
  return oncePerBuild(build, `checkout\0${src.remote}\0${commit}\0${src.subdir ?? ''}\0${keepGitDir}`, () => checkoutGit(src, commit, tmp, keepGitDir));
}
