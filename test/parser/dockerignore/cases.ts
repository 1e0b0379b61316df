import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PROJECT_ROOT } from '../../support/cli.js';
import { IgnoreMatcher, parseDockerignore } from '../../../src/parser/dockerignore.js';

export interface IgnoreCase {
  name: string;
  dockerignore: string;
  expected: string[];
}

export const CASES: { tree: string[]; cases: IgnoreCase[] } = JSON.parse(
  readFileSync(join(PROJECT_ROOT, 'testdata', 'dockerignore', 'cases.json'), 'utf8'),
);

/** Every path of a tree spec (directories implied by files included), as `name` or `dir/`. */
export function treeEntries(tree: string[]): string[] {
  const out = new Set<string>(['.dockerignore']);
  for (const spec of tree) {
    const path = spec.split(' -> ')[0]!;
    const parts = path.replace(/\/$/, '').split('/');
    for (let i = 1; i < parts.length; i++) out.add(parts.slice(0, i).join('/') + '/');
    out.add(path);
  }
  return [...out].sort();
}

export async function writeTree(dir: string, tree: string[], dockerignore: string): Promise<void> {
  for (const spec of tree) {
    const [path, target] = spec.split(' -> ') as [string, string | undefined];
    const full = join(dir, path);
    if (path.endsWith('/')) {
      await mkdir(full, { recursive: true });
      continue;
    }
    await mkdir(dirname(full), { recursive: true });
    if (target !== undefined) await symlink(target, full);
    else await writeFile(full, path === 'Dockerfile' ? 'FROM scratch\n' : path);
  }
  await writeFile(join(dir, '.dockerignore'), dockerignore);
}

/**
 * What the Docker CLI would send according to our matcher: every entry not excluded, plus the
 * Dockerfile and .dockerignore, which the CLI always sends.
 */
export function keptByMatcher(tree: string[], dockerignore: string): string[] {
  const m = new IgnoreMatcher(parseDockerignore(dockerignore));
  return treeEntries(tree)
    .filter((e) => e === 'Dockerfile' || e === '.dockerignore' || !m.matches(e))
    .sort();
}
