import { chmod, link, mkdir, symlink, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { tempDir } from './tmp.js';

/** One entry of a test tree: file content, or a file/dir/link with attributes. */
export type TreeEntry =
  | string
  | Uint8Array
  | { content: string | Uint8Array; mode?: number; mtime?: number }
  | { dir: true; mode?: number }
  | { symlink: string }
  | { hardlink: string };

export type TreeSpec = Record<string, TreeEntry>;

/**
 * Write `spec` under `dir` (parents created as needed; entries in insertion order, so a hardlink
 * names an earlier file). Modes are applied exactly (no umask); `mtime` is in seconds.
 *
 * @example
 * await writeTree(dir, { 'a.txt': 'x', 'bin/run': { content: '#!/bin/sh', mode: 0o755 }, link: { symlink: 'a.txt' } });
 */
export async function writeTree(dir: string, spec: TreeSpec): Promise<void> {
  for (const [rel, entry] of Object.entries(spec)) {
    const p = join(dir, rel);
    await mkdir(dirname(p), { recursive: true });
    if (typeof entry === 'string' || entry instanceof Uint8Array) {
      await writeFile(p, entry);
      await chmod(p, 0o644);
    } else if ('dir' in entry) {
      await mkdir(p, { recursive: true });
      await chmod(p, entry.mode ?? 0o755);
    } else if ('symlink' in entry) {
      await symlink(entry.symlink, p);
    } else if ('hardlink' in entry) {
      await link(join(dir, entry.hardlink), p);
    } else {
      await writeFile(p, entry.content);
      await chmod(p, entry.mode ?? 0o644);
      if (entry.mtime !== undefined) await utimes(p, entry.mtime, entry.mtime);
    }
  }
}

/** A temp directory holding `spec` (see `writeTree`); `cleanup` removes it. */
export async function makeContext(spec: TreeSpec, prefix = 'tb-ctx-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const t = await tempDir(prefix);
  await writeTree(t.path, spec);
  return { dir: t.path, cleanup: t.cleanup };
}
