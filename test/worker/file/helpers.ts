import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Every path below `dir`, relative and sorted (what the conformance `tree` check lists). */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(rel: string): Promise<void> {
    for (const name of (await readdir(join(dir, rel))).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      out.push(r);
      if ((await lstat(join(dir, r))).isDirectory()) await walk(r);
    }
  }
  await walk('');
  return out.sort();
}

export async function info(path: string): Promise<{ mode: string; uid: number; gid: number; type: string; mtime: number }> {
  const st = await lstat(path);
  const type = st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
  return { mode: (st.mode & 0o7777).toString(8).padStart(4, '0'), uid: st.uid, gid: st.gid, type, mtime: Math.floor(st.mtimeMs / 1000) };
}

export const text = (p: string): Promise<string> => readFile(p, 'utf8');
