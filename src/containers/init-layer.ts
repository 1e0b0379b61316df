import { lstat, mkdir, symlink, writeFile, chown } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join, posix } from 'node:path';
import type { Snapshotter } from '../cache/types.js';
import { KEEP_LABEL } from '../cache/snapshotter.js';

/**
 * Docker's init layer: a layer between the image and the container's writable layer holding what
 * dockerd adds to every container's root (`/.dockerenv`, `/etc/mtab` → `/proc/mounts`, and the
 * mount points of the managed /etc files and kernel filesystems). Being below the writable layer,
 * none of it shows in `docker diff` or goes into `docker commit`.
 */

const FILES = ['/.dockerenv', '/etc/hosts', '/etc/hostname', '/etc/resolv.conf'];
const DIRS = ['/proc', '/sys', '/dev'];
const LINKS: Array<[string, string]> = [['/etc/mtab', '/proc/mounts']];

export function initLayerName(containerId: string): string {
  return `ctr-${containerId}-init`;
}

/** Make the committed init snapshot for `containerId` on top of `parent`; returns its name. */
export async function prepareInitLayer(snapshots: Snapshotter, containerId: string, parent: string | undefined): Promise<string> {
  const name = initLayerName(containerId);
  const key = `${name}-wip`;
  const labels = { [KEEP_LABEL]: 'container', 'tbuild.container': containerId };
  await snapshots.prepare(key, parent, labels);
  try {
    const upper = await snapshots.layerDir(key);
    const lowers = parent ? await Promise.all((await snapshots.chain(parent)).map((k) => snapshots.layerDir(k))) : [];
    const present = async (p: string) => {
      for (const l of lowers) if (await lstat(join(l, p)).catch(() => undefined)) return true;
      return false;
    };
    /**
     * A parent directory made here must look as the image's does (overlay shows the upper's mode
     * and owner); where the image has something else there (/etc a symlink), the entry is left out
     * rather than shadowing it.
     */
    const ensureParent = async (p: string): Promise<boolean> => {
      const dir = posix.dirname(p);
      if (dir === '/' || (await lstat(join(upper, dir)).catch(() => undefined))) return true;
      let like: Stats | undefined;
      for (const l of lowers) {
        like = await lstat(join(l, dir)).catch(() => undefined);
        if (like) break;
      }
      if (like && !like.isDirectory()) return false;
      await mkdir(join(upper, dir), { recursive: true, mode: 0o755 });
      if (like) await chown(join(upper, dir), like.uid, like.gid);
      return true;
    };
    for (const f of FILES) {
      if ((await present(f)) || !(await ensureParent(f))) continue;
      await writeFile(join(upper, f), '', { mode: 0o755 });
    }
    for (const d of DIRS) {
      if (await present(d)) continue;
      await mkdir(join(upper, d), { mode: 0o755 });
    }
    for (const [link, target] of LINKS) {
      if ((await present(link)) || !(await ensureParent(link))) continue;
      await symlink(target, join(upper, link));
    }
    await snapshots.commit(name, key, labels);
    return name;
  } catch (err) {
    await snapshots.remove(key).catch(() => {});
    throw err;
  }
}
