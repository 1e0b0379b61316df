import { execFile, spawn } from 'node:child_process';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import type { SourceCacheEntry } from '../types.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TbuildError } from '../../errors.js';
import { resolveInRoot } from '../../util/confine.js';
import { sha256 } from '../../util/digest.js';
import { oncePerBuild } from './once-per-build.js';
import { lockFile, tryLockFile, withFileLock } from '../../util/file-lock.js';
import { ownedName } from '../../util/owned-temp.js';
import { markUsed, sourceCacheEntry } from './source-cache-entry.js';
import { redactCredentials } from '../../util/redact-url.js';
import { diskUsage } from '../../cache/usage.js';

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

/** Every URL with user information in `text` shown without its credentials. */
function redactInText(text: string): string {
  return text.replace(/[a-z][a-z0-9+.-]*:\/\/[^\s'"]+@[^\s'"]+/gi, (url) => redactCredentials(url));
}

// never ask for a password on a terminal, never read the user's git config; what git fetches is
// scratch or cache (its files are kept in a layer): no fsync
function gitEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', HOME: '/nonexistent', GIT_SSH_COMMAND: 'ssh -o BatchMode=yes', GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'core.fsync', GIT_CONFIG_VALUE_0: 'none' };
}

async function git(args: string[], what: string, cwd?: string): Promise<string> {
  try {
    const { stdout } = await run('git', args, {
      ...(cwd ? { cwd } : {}),
      env: gitEnv(),
      maxBuffer: 16 << 20,
      timeout: 300_000,
    });
    return stdout;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new TbuildError('TB_INTERNAL', 'git is not installed (apt-get install git; scripts/setup.sh does it)');
    // (git may echo the URL it was given, credentials and all)
    throw new TbuildError('TB_ADD_GIT', `${what}: ${redactInText((e.stderr ?? e.message).trim().split('\n').pop() ?? '')}`);
  }
}

/** The commit `ref` (default the remote's HEAD) names now: what keys the step. */
export async function resolveGitCommit(src: GitSource): Promise<string> {
  const ref = src.ref ?? 'HEAD';
  if (/^[0-9a-f]{40}$/.test(ref)) return ref;
  const out = await git(['ls-remote', '--', src.remote, ref, `refs/tags/${ref}^{}`], `git ls-remote ${redactCredentials(src.remote)} ${ref}`);
  const lines = out.trim().split('\n').filter(Boolean).map((l) => l.split('\t') as [string, string]);
  // an annotated tag's commit (`^{}`) wins over the tag object
  const found = lines.find(([, name]) => name.endsWith('^{}')) ?? lines.find(([, name]) => name === ref || name === `refs/heads/${ref}` || name === `refs/tags/${ref}`) ?? lines[0];
  if (!found) throw new TbuildError('TB_ADD_GIT', `${redactCredentials(src.remote)}: no ref ${ref}`);
  return found[0];
}

/** Where fetched commits stay between builds: a bare repository per remote, as BuildKit keeps one. */
export function gitCacheDir(root: string): string {
  return join(root, 'cache', 'git');
}

/**
 * The files of exactly `commit` in a fresh directory under `tmp`; returns the directory to copy
 * from (the subdir, confined to the checkout). With `cacheRoot`, the commit comes from the
 * remote's cached repository (fetched into it only when missing) and is written out by
 * `git archive`; with `.git` kept, or a tree that `git archive` would write differently
 * (`.gitattributes` export rules) or that has submodules, from a shallow clone of its own.
 */
export async function checkoutGit(src: GitSource, commit: string, tmp: string, keepGitDir: boolean, cacheRoot?: string): Promise<string> {
  const dir = join(tmp, `git-${sha256(`${src.remote}#${commit}`).slice(7, 23)}-${Math.random().toString(16).slice(2, 8)}`);
  await mkdir(dir, { recursive: true });
  const cached = !keepGitDir && cacheRoot !== undefined && (await fromCache(src, commit, dir, gitCacheDir(cacheRoot)));
  if (!cached) await shallowClone(src, commit, dir, keepGitDir);
  return src.subdir ? resolveInRoot(dir, src.subdir) : dir;
}

async function shallowClone(src: GitSource, commit: string, dir: string, keepGitDir: boolean): Promise<void> {
  const what = `git fetch ${redactCredentials(src.remote)} ${src.ref ?? 'HEAD'}`;
  await git(['init', '-q'], what, dir);
  await fetchCommit(src, commit, ['-C', dir]);
  // files written by as many workers as there are CPUs (git ≥ 2.32; an older git ignores the key)
  await git(['-c', 'checkout.workers=0', 'checkout', '-q', commit], what, dir);
  // git takes ~0.1 s to find there is nothing to update: ask only when the commit names submodules
  if (existsSync(join(dir, '.gitmodules'))) await git(['submodule', 'update', '--init', '--recursive', '--depth', '1'], `git submodule update in ${redactCredentials(src.remote)}`, dir);
  if (!keepGitDir) await rm(join(dir, '.git'), { recursive: true, force: true });
}

function fetchCommit(src: GitSource, commit: string, where: string[]): Promise<string> {
  const what = `git fetch ${redactCredentials(src.remote)} ${src.ref ?? 'HEAD'}`;
  return git([...where, 'fetch', '-q', '--depth', '1', '--', src.remote, commit], what).catch(async () =>
    // servers that do not allow fetching a commit by id: fetch the ref, then check it is that commit
    git([...where, 'fetch', '-q', '--depth', '1', '--', src.remote, src.ref ?? 'HEAD'], what),
  );
}

/**
 * The repositories and kept trees, as `builder du` lists BuildKit's (`source.git.checkout`); each
 * removed under its repository's lock, a tree only when no build holds it.
 */
export async function gitCacheEntries(root: string): Promise<SourceCacheEntry[]> {
  const dir = gitCacheDir(root);
  const trees = treesDir(root);
  const out: SourceCacheEntry[] = [];
  const remoteOf = async (id: string): Promise<string> => (await readFile(join(dir, `${id}.git`, 'tbuild-remote'), 'utf8').catch(() => '')) || `repository ${id}`;
  const add = (e: SourceCacheEntry | undefined): void => void (e && out.push(e));
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.endsWith('.git')) continue;
    const id = name.slice(0, -'.git'.length);
    const repo = join(dir, name);
    add(
      await sourceCacheEntry(repo, {
        id: `git-${id}`,
        type: 'source.git.checkout',
        description: `shared git repo for ${await remoteOf(id)}`,
        remove: () =>
          withFileLock(`${repo}.lock`, async () => {
            await rm(repo, { recursive: true, force: true });
            return true;
          }),
      }),
    );
  }
  for (const name of await readdir(trees).catch(() => [] as string[])) {
    if (!/^[0-9a-f]{16}-[0-9a-f]{40}$/.test(name)) continue;
    const [id, commit] = name.split('-') as [string, string];
    const tree = join(trees, name);
    add(
      await sourceCacheEntry(tree, {
        id: `git-${name}`,
        type: 'source.git.checkout',
        description: `git snapshot for ${await remoteOf(id)}#${commit}`,
        remove: () => withFileLock(`${join(dir, `${id}.git`)}.lock`, async () => (await removeTree(tree)) !== undefined),
      }),
    );
  }
  return out;
}

/** Remove a kept tree unless a build holds it; its size, or undefined when it is in use. Under the repository's lock. */
async function removeTree(tree: string): Promise<number | undefined> {
  const lock = await tryLockFile(`${tree}.lock`);
  if (!lock) return undefined;
  try {
    const size = (await diskUsage(tree)).size;
    await rm(tree, { recursive: true, force: true });
    // nobody opens a tree's lock outside the repository's lock, which the caller holds
    await rm(`${tree}.lock`, { force: true });
    return size;
  } finally {
    lock.release();
  }
}

/** False when the tree must be checked out the long way (see checkoutGit). */
async function fromCache(src: GitSource, commit: string, dir: string, cacheDir: string): Promise<boolean> {
  const repo = repoPath(cacheDir, src.remote);
  return withFileLock(`${repo}.lock`, () => archiveFromRepo(src, commit, repo, dir));
}

function repoPath(cacheDir: string, remote: string): string {
  return join(cacheDir, `${repoId(remote)}.git`);
}

function repoId(remote: string): string {
  return sha256(remote).slice(7, 23);
}

/** `commit` written into `dir` from the remote's cached repository, fetched into it when missing. The caller holds the repository's lock. */
async function archiveFromRepo(src: GitSource, commit: string, repo: string, dir: string): Promise<boolean> {
  const what = `git fetch ${redactCredentials(src.remote)} ${src.ref ?? 'HEAD'}`;
  const at = ['--git-dir', repo];
  if (!existsSync(join(repo, 'objects'))) {
    await rm(repo, { recursive: true, force: true });
    await git(['init', '-q', '--bare', repo], what);
    // (what `builder du` names the repository by: its directory is a hash)
    await writeFile(join(repo, 'tbuild-remote'), redactCredentials(src.remote));
  }
  // the commit's file names, which also says whether the repository has it yet
  const list = (): Promise<string | undefined> => git([...at, 'ls-tree', '-r', '--name-only', '-z', `${commit}^{commit}`], what).catch(() => undefined);
  let listed = await list();
  if (listed === undefined) {
    await fetchCommit(src, commit, at);
    listed = await list();
    // (or a tree too large to list: that goes the long way)
    if (listed === undefined) return false;
  }
  await markUsed(repo);
  const names = listed.split('\0');
  if (names.some((n) => n === '.gitmodules' || n === '.gitattributes' || n.endsWith('/.gitattributes'))) return false;
  await archiveInto(repo, commit, dir, what);
  return true;
}

/** A commit's files kept for build contexts; `release` when the build is done with them. */
export interface GitTree {
  dir: string;
  release(): void;
}

/** Trees kept per remote: the last few commits built, as a branch moves on. */
const TREES_PER_REMOTE = 4;

function treesDir(root: string): string {
  return join(gitCacheDir(root), 'trees');
}

/**
 * The files of `commit` kept under the state root for a build context: written once by
 * `git archive` and renamed into place, then used as they are, so a rebuild from the same commit
 * neither writes nor hashes them again (its stat cache hits, as BuildKit reads its git snapshot).
 * Nothing writes into a context (a read-write bind gets an overlay of its own). Each build holds
 * a shared lock on its tree until it releases it; a remote's oldest trees beyond
 * TREES_PER_REMOTE, and all of them on prune, go only when nobody holds one. Undefined when the
 * commit must be checked out the long way (see checkoutGit).
 */
export async function gitTree(src: GitSource, commit: string, root: string): Promise<GitTree | undefined> {
  const cacheDir = gitCacheDir(root);
  const repo = repoPath(cacheDir, src.remote);
  const trees = treesDir(root);
  const tree = join(trees, `${repoId(src.remote)}-${commit}`);
  // the repository's lock orders every look-up, creation and removal of its trees
  return withFileLock(`${repo}.lock`, async () => {
    if (existsSync(tree)) {
      await markUsed(tree);
    } else {
      // (what a dead writer left here goes with the build scratch sweep: verify/scratch.ts)
      await mkdir(trees, { recursive: true });
      const tmp = join(trees, ownedName('tmp'));
      await mkdir(tmp);
      try {
        if (!(await archiveFromRepo(src, commit, repo, tmp))) {
          await rm(tmp, { recursive: true, force: true });
          return undefined;
        }
        await rename(tmp, tree);
      } catch (err) {
        await rm(tmp, { recursive: true, force: true });
        throw err;
      }
      await evictTrees(trees, repoId(src.remote), TREES_PER_REMOTE);
    }
    const dir = src.subdir ? await resolveInRoot(tree, src.subdir) : tree;
    const lock = await lockFile(`${tree}.lock`, { shared: true });
    return { dir, release: () => lock.release() };
  });
}

/** Remove the trees of one remote, newest `keep` kept, busy ones skipped; bytes freed. Under the repository's lock. */
async function evictTrees(trees: string, id: string, keep: number): Promise<number> {
  const names = (await readdir(trees).catch(() => [] as string[])).filter((n) => n.startsWith(`${id}-`) && /^[0-9a-f]{16}-[0-9a-f]{40}$/.test(n));
  const dated = await Promise.all(names.map(async (n) => ({ n, t: (await stat(join(trees, n)).catch(() => undefined))?.mtimeMs ?? 0 })));
  dated.sort((a, b) => b.t - a.t);
  let freed = 0;
  for (const { n } of dated.slice(keep)) freed += (await removeTree(join(trees, n))) ?? 0;
  return freed;
}

/** `git archive COMMIT | tar -x`: files as a checkout writes them (the process umask, mtimes of now), no index. */
function archiveInto(repo: string, commit: string, dir: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const archive = spawn('git', ['--git-dir', repo, '-c', 'tar.umask=user', 'archive', '--format=tar', commit], { env: gitEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const tar = spawn('tar', ['-x', '-m', '--no-same-owner', '-C', dir], { stdio: ['pipe', 'ignore', 'pipe'] });
    archive.stdout.pipe(tar.stdin);
    const errors: string[] = [];
    archive.stderr.on('data', (d: Buffer) => errors.push(d.toString()));
    tar.stderr.on('data', (d: Buffer) => errors.push(d.toString()));
    let left = 2;
    let failed = false;
    const done = (name: string) => (code: number | null) => {
      if (code !== 0) failed = true;
      if (code !== 0 && !errors.length) errors.push(`${name} exited ${code}`);
      if (--left > 0) return;
      if (failed) reject(new TbuildError('TB_ADD_GIT', `${what}: ${errors.join(' ').trim().split('\n').pop()}`));
      else resolve();
    };
    archive.on('error', reject);
    tar.on('error', reject);
    archive.on('close', done('git archive'));
    tar.on('close', done('tar'));
  });
}

/** One resolution and one checkout per source per build: the cache key and the copy share them. */
export function resolveGitOnce(build: object, src: GitSource): Promise<string> {
  return oncePerBuild(build, `resolve\0${src.remote}\0${src.ref ?? ''}`, () => resolveGitCommit(src));
}

export function checkoutGitOnce(build: object, src: GitSource, commit: string, tmp: string, keepGitDir: boolean, cacheRoot?: string): Promise<string> {
  return oncePerBuild(build, `checkout\0${src.remote}\0${commit}\0${src.subdir ?? ''}\0${keepGitDir}`, () => checkoutGit(src, commit, tmp, keepGitDir, cacheRoot));
}
