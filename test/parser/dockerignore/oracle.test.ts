import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../support/tmp.js';
import { DOCKER_CLI, DockerCapture, dockerBuild } from '../../support/docker-capture.js';
import { CASES, keptByMatcher, writeTree } from './cases.js';
import { isTbuildError } from '../../../src/errors.js';

/**
 * The Docker CLI applies .dockerignore itself before it sends the context to `POST /build`; a fake
 * engine captures the tar, so every case is checked against the real implementation.
 */
describe('.dockerignore oracle: the Docker CLI', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let capture: DockerCapture;

  beforeAll(async () => {
    expect(existsSync(DOCKER_CLI)).toBe(true);
    tmp = await tempDir('tb-dio-');
    capture = await DockerCapture.start(tmp.path);
  });
  afterAll(async () => {
    await capture?.close();
    await tmp?.cleanup();
  });

  test.each(CASES.cases.map((c, i) => [c.name, c, i] as const))('%s', async (_name, c, i) => {
    const ctx = join(tmp.path, `c${i}`);
    await writeTree(ctx, CASES.tree, c.dockerignore);
    const before = capture.builds.length;
    const r = await dockerBuild(capture.socket, ['-t', 'x', '.'], ctx);
    expect(r.code, r.stderr).toBe(0);
    expect(capture.builds.length).toBe(before + 1);
    const sent = capture.builds
      .at(-1)!
      .entries.map((e) => (e.type === 'directory' ? e.name.replace(/\/?$/, '/') : e.name))
      .sort();
    expect(sent).toEqual(c.expected);
    expect(keptByMatcher(CASES.tree, c.dockerignore)).toEqual(sent);
  });

  // Patterns Docker rejects, or accepts only because they are never used, and RE2 escapes.
  const ODD = ['src\\util', '[', 'a\\', '[]', '!', 'x\\d', 'a\\tb', 'x[\\d]', 'x\\1', 'x\\101', '!src\\util', '[z-a]', '*\n![z-a]', 'a\\x41'];
  const ODD_TREE = ['Dockerfile', 'xA', 'x5', 'a\tb', 'src/util'];
  test.each(ODD.map((p, i) => [p, i] as const))('odd pattern %j: same failure or same context', async (text, i) => {
    const ctx = join(tmp.path, `odd${i}`);
    await writeTree(ctx, ODD_TREE, text);
    const before = capture.builds.length;
    const r = await dockerBuild(capture.socket, ['.'], ctx);
    let ours: string[] | 'error';
    try {
      ours = keptByMatcher(ODD_TREE, text);
    } catch (err) {
      expect(isTbuildError(err, 'TB_DOCKERIGNORE')).toBe(true);
      ours = 'error';
    }
    if (r.code !== 0) {
      expect(r.stderr).toMatch(/syntax error in pattern|illegal exclusion pattern/);
      expect(capture.builds.length).toBe(before);
      expect(ours).toBe('error');
    } else {
      const sent = capture.builds.at(-1)!.entries.map((e) => (e.type === 'directory' ? e.name.replace(/\/?$/, '/') : e.name)).sort();
      expect(ours).toEqual(sent);
    }
  });
});
