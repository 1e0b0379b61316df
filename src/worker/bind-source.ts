import { cp, lstat, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { TbuildError } from '../errors.js';
import { resolveInRoot } from '../util/confine.js';
import { mountAll } from '../util/mount.js';

/**
 * The host path a `RUN --mount=type=bind` shows at its target: `source` inside `root` (a stage's
 * files or the build context), confined to it. A writable bind's writes are thrown away, as in
 * BuildKit: it gets a private copy-on-write layer (an overlay in `work`; a copy for a file), so
 * nothing reaches the stage or the user's context. `release` undoes what was made.
 */
export async function bindSource(root: string, source: string, readonly: boolean, work: () => Promise<string>): Promise<{ path: string; release: () => Promise<void> }> {
  const src = await resolveInRoot(root, source);
  const st = await lstat(src).catch(() => undefined);
  if (!st) throw new TbuildError('TB_COPY_SOURCE_NOT_FOUND', `mount source ${source}: not found`);
  if (readonly) return { path: src, release: async () => {} };
  const dir = await work();
  const drop = () => rm(dir, { recursive: true, force: true });
  try {
    if (!st.isDirectory()) {
      await cp(src, join(dir, 'f'));
      return { path: join(dir, 'f'), release: drop };
    }
    const [upper, wd, merged] = ['u', 'w', 'm'].map((n) => join(dir, n)) as [string, string, string];
    await Promise.all([mkdir(upper), mkdir(wd), mkdir(merged)]);
    const unmount = await mountAll([{ type: 'overlay', source: 'overlay', options: [`lowerdir=${src}`, `upperdir=${upper}`, `workdir=${wd}`] }], merged);
    return {
      path: merged,
      release: async () => {
        await unmount();
        await drop();
      },
    };
  } catch (err) {
    await drop();
    throw err;
  }
}
