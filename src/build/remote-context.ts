import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import type { ContextSource } from '../session/types.js';
import { checkoutGit, gitTree, parseGitSource, resolveGitCommit } from '../worker/file/git-source.js';
import { download, isHttpSource } from '../worker/file/http-source.js';

/** Whether `context` names a remote context: a git URL (`https://host/repo.git#ref:subdir`, `git://…`) or a tarball URL. */
export function remoteContextKind(context: string): 'git source' | 'remote context' | undefined {
  if (parseGitSource(context)) return 'git source';
  return isHttpSource(context) ? 'remote context' : undefined;
}

/**
 * A remote context made openable: a git commit's files kept under the state root (held until the
 * context is disposed), or checked out into the build's scratch `tmp` when they cannot be kept
 * (submodules, export rules); a tarball (plain or compressed) downloaded into `tmp`.
 */
export async function remoteContextSource(url: string, tmp: string, root: string, signal?: AbortSignal): Promise<ContextSource> {
  const git = parseGitSource(url);
  if (git) {
    const commit = await resolveGitCommit(git);
    const tree = await gitTree(git, commit, root);
    if (tree) return { tree: tree.dir, release: tree.release };
    return checkoutGit(git, commit, tmp, false);
  }
  const got = await download(url, tmp, signal, undefined, 'context', root);
  return { tar: createReadStream(join(got.dir, got.name)) };
}
