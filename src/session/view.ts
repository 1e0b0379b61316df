import { chmod, mkdir, rm, stat } from 'node:fs/promises';
import { ownedName } from '../util/owned-temp.js';
import { basename, join, resolve } from 'node:path';
import { resolveInRoot } from '../util/confine.js';
import { copyFiles } from '../worker/file/copy.js';
import { cleanSourcePath } from '../worker/file/select.js';
import type { BuildContext } from './types.js';

export interface ContextView {
  /** Host directory showing the context (or a path in it) as BuildKit would: ignored files absent. */
  readonly dir: string;
  /** Remove the filtered copy, if one was made. Idempotent. */
  release(): Promise<void>;
}

/**
 * What `RUN --mount=type=bind` (without `from`) should mount: the context with `.dockerignore`
 * applied, as BuildKit's transferred context is. Without ignore patterns that is the context dir
 * itself (no copy); with them, a filtered copy under `<root>/tmp/ctxview-*` (never hardlinks: a
 * `rw` bind mount must not write through to the user's files).
 */
export async function contextView(ctx: BuildContext, root: string, source = '.'): Promise<ContextView> {
  const hasPatterns = (ctx.ignore as { hasPatterns?: boolean }).hasPatterns ?? true;
  if (!hasPatterns) return { dir: await resolveInRoot(ctx.dir, source), release: async () => {} };
  const base = join(resolve(root), 'tmp');
  await mkdir(base, { recursive: true, mode: 0o700 });
  const dir = join(base, ownedName('ctxview'));
  await mkdir(dir, { mode: 0o700 });
  let released = false;
  const release = async (): Promise<void> => {
    if (released) return;
    released = true;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await chmod(dir, 0o755);
    await copyFiles({ srcRoot: ctx.dir, ignore: ctx.ignore, keepOwner: true, sources: [source], dest: '/', destRoot: dir });
    // A single-file source lands as /<name> in the view: hand out the file itself.
    const isDir = (await stat(await resolveInRoot(ctx.dir, source))).isDirectory();
    return { dir: isDir ? dir : join(dir, basename(cleanSourcePath(source))), release };
  } catch (err) {
    await release();
    throw err;
  }
}
