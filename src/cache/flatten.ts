import { execFile } from 'node:child_process';
import { lstat, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { TbuildError } from '../errors.js';
import { scanXattrsMany } from './fsops.js';

export const OPAQUE_XATTR = 'trusted.overlay.opaque';

function cp(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('/bin/cp', args, { maxBuffer: 1 << 20 }, (err, _o, stderr) =>
      err ? reject(new TbuildError('TB_INTERNAL', `cp ${args.join(' ')}: ${String(stderr).trim() || err.message}`)) : resolve(),
    );
  });
}

async function lstatOrUndefined(p: string) {
  try {
    return await lstat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw err;
  }
}

/**
 * Materialize the merged view of overlay layers as one plain directory `dest`, in user space (no
 * mount): start from `base` (an earlier flattened copy) and apply `layers` bottom-up the way
 * overlayfs would show them: a 0/0 char device deletes, an opaque directory hides what was below,
 * anything else replaces. Files are hard-linked, not copied (`cp -al`): committed layers are
 * immutable and every replacement below unlinks first, so no file is ever written in place.
 */
export async function mergeLayers(base: string | undefined, layers: string[], dest: string): Promise<void> {
  await mkdir(dest, { recursive: true });
  if (base) await cp(['-al', `${base}/.`, `${dest}/`]);
  const opaques = await scanXattrsMany(layers);
  for (const [i, layer] of layers.entries()) {
    const xattrs = opaques[i]!;
    const whiteouts: string[] = [];
    const prepass = async (rel: string): Promise<void> => {
      for (const name of await readdir(join(layer, rel))) {
        const r = rel ? `${rel}/${name}` : name;
        const st = await lstat(join(layer, r));
        const target = join(dest, r);
        const tst = await lstatOrUndefined(target);
        if (st.isCharacterDevice() && st.rdev === 0) {
          whiteouts.push(target);
          if (tst) await rm(target, { recursive: true, force: true });
        } else if (st.isDirectory()) {
          const opaque = xattrs.get(r)?.get(OPAQUE_XATTR)?.toString() === 'y';
          if (tst && (!tst.isDirectory() || opaque)) await rm(target, { recursive: true, force: true });
          await prepass(r);
        } else if (tst) {
          await rm(target, { recursive: true, force: true });
        }
      }
    };
    await prepass('');
    await cp(['-al', `${layer}/.`, `${dest}/`]);
    for (const w of whiteouts) await rm(w, { force: true });
  }
}
