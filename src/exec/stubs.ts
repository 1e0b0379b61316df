import { lstatSync, rmdirSync, unlinkSync, type Stats } from 'node:fs';
import { join, posix } from 'node:path';

/**
 * runc creates missing mount points (e.g. /etc/hosts, /proc) inside the rootfs, which would then
 * show up in the layer a RUN commits. As BuildKit does, note which mount destinations are missing
 * before the run and remove the empty stubs afterwards (deepest first).
 * Synchronous: a handful of lstats on the container-start hot path.
 * Lookups do not follow symlinks: a destination under a symlinked dir is left to runc.
 */
export function findMissing(rootfs: string, destinations: string[]): string[] {
  const missing = new Set<string>();
  for (const dest of destinations) {
    const parts = posix.normalize(dest).split('/').filter(Boolean);
    let cur = '';
    for (const p of parts) {
      cur += '/' + p;
      const st = lstatOrUndefined(join(rootfs, cur));
      if (!st) {
        missing.add(cur);
        break;
      }
      if (!st.isDirectory()) break;
    }
  }
  return [...missing];
}

/** Remove stubs that runc created under the first-missing paths, if they are still empty. */
export function removeStubs(rootfs: string, missing: string[], destinations: string[]): void {
  const created = new Set<string>();
  for (const m of missing) {
    for (const d of destinations) {
      const nd = posix.normalize(d);
      if (nd !== m && !nd.startsWith(m + '/')) continue;
      let cur = nd;
      while (cur.length >= m.length) {
        created.add(cur);
        cur = posix.dirname(cur);
      }
    }
  }
  const ordered = [...created].sort((a, b) => b.length - a.length);
  for (const p of ordered) {
    const host = join(rootfs, p);
    const st = lstatOrUndefined(host);
    if (!st) continue;
    try {
      if (st.isDirectory()) rmdirSync(host);
      else if (st.isFile() && st.size === 0) unlinkSync(host);
    } catch {
      // not empty any more (the process wrote there): it is part of the result now
    }
  }
}

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}
