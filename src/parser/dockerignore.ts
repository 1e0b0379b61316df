/**
 * `.dockerignore`: reading the file (Docker's `ignorefile.ReadAll`), finding it (BuildKit's
 * `<Dockerfile>.dockerignore` next to the Dockerfile first, then `<context>/.dockerignore`), and
 * matching context paths against it (`IgnoreMatcher`).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TbuildError } from '../errors.js';
import { cleanPath } from './dockerignore/clean.js';

export { IgnoreMatcher } from './dockerignore/matcher.js';

/**
 * Turn file text into patterns: a UTF-8 BOM is dropped; lines starting with `#` are comments
 * (only at column 0: ` #x` is a pattern); lines are trimmed; patterns are cleaned like paths and
 * lose a leading `/`; `!` keeps its meaning in front of the cleaned path.
 */
export function parseDockerignore(text: string): string[] {
  const patterns: string[] = [];
  const lines = text.replace(/^\ufeff/, '').split(/\r?\n/);
  for (const line of lines) {
    if (line.startsWith('#')) continue;
    let pattern = line.trim();
    if (pattern === '') continue;
    const invert = pattern.startsWith('!');
    if (invert) pattern = pattern.slice(1).trim();
    if (pattern.length > 0) {
      pattern = cleanPath(pattern);
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    }
    patterns.push(invert ? '!' + pattern : pattern);
  }
  return patterns;
}

/**
 * The ignore patterns for a build: `<dockerfilePath>.dockerignore` wins when it exists, else
 * `<contextDir>/.dockerignore`, else none. `dockerfilePath` is absolute.
 */
export async function loadDockerignore(contextDir: string, dockerfilePath?: string): Promise<string[]> {
  const candidates = dockerfilePath ? [`${dockerfilePath}.dockerignore`] : [];
  candidates.push(join(contextDir, '.dockerignore'));
  for (const file of candidates) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new TbuildError('TB_DOCKERIGNORE', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
    }
    return parseDockerignore(text);
  }
  return [];
}
