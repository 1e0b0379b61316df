import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { tempDir } from '../../support/tmp.js';
import { makeRepo, serveGit } from '../../support/git.js';
import { gitCacheEntries, gitTree, resolveGitCommit, type GitSource } from '../../../src/worker/file/git-source.js';
import { pruneSourceCaches } from '../../../src/worker/file/source-caches.js';
import { openContext } from '../../../src/session/open.js';
import { checksumSources } from '../../../src/session/checksum.js';

/**
 * A git context's files kept per commit under the state root (`<root>/cache/git/trees/`): written
 * once, reused as they are, a remote's oldest beyond four evicted unless a build holds them.
 */
describe('kept git trees', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let gitd: Awaited<ReturnType<typeof serveGit>>;
  let g: (...args: string[]) => string;
  let src: GitSource;
  let root: string;
  const trees = () => readdir(join(root, 'cache', 'git', 'trees')).then((names) => names.filter((n) => !n.endsWith('.lock')).sort());

  beforeAll(async () => {
    tmp = await tempDir('tb-gittree-');
    const base = join(tmp.path, 'repos');
    g = await makeRepo(join(base, 'app.git'), tmp.path, { 'a.txt': 'one\n', 'sub/b.txt': 'bee\n' });
    gitd = await serveGit(base, 'app.git');
    src = { remote: gitd.url('app.git') };
    root = join(tmp.path, 'root');
  }, 60_000);

  afterAll(async () => {
    gitd?.stop();
    await tmp?.cleanup();
  });

  test('one commit is written once and reused; its hashes are remembered on first use', async () => {
    const commit = await resolveGitCommit(src);
    const first = (await gitTree(src, commit, root))!;
    expect(await readFile(join(first.dir, 'a.txt'), 'utf8')).toBe('one\n');
    const written = (await stat(join(first.dir, 'a.txt'))).ino;
    // a context opened on it hashes every file once, and the next one hashes none
    const ctx = await openContext({ tree: first.dir, release: first.release }, { root, dockerfileText: '' });
    const sum = await checksumSources(ctx, ['.']);
    expect(ctx.statCache.stats).toEqual({ hits: 0, misses: 2 });
    await ctx.dispose();
    const again = (await gitTree(src, commit, root))!;
    expect(again.dir).toBe(first.dir);
    expect((await stat(join(again.dir, 'a.txt'))).ino).toBe(written);
    const ctx2 = await openContext({ tree: again.dir, release: again.release }, { root, dockerfileText: '' });
    expect(await checksumSources(ctx2, ['.'])).toBe(sum);
    expect(ctx2.statCache.stats).toEqual({ hits: 2, misses: 0 });
    await ctx2.dispose();
    // a subdir is resolved inside the kept tree
    const sub = (await gitTree({ ...src, subdir: 'sub' }, commit, root))!;
    expect(await readdir(sub.dir)).toEqual(['b.txt']);
    sub.release();
  }, 60_000);

  test('four trees per remote: the oldest goes, unless a build holds it; prune takes what nobody holds', async () => {
    const held = (await gitTree(src, await resolveGitCommit(src), root))!;
    const made: string[] = [];
    for (let i = 0; i < 5; i++) {
      await writeFile(join(tmp.path, 'repos', 'app.git', 'a.txt'), `change ${i}\n`);
      g('commit', '-q', '-am', `change ${i}`);
      const commit = await resolveGitCommit(src);
      made.push(commit);
      const t = (await gitTree(src, commit, root))!;
      expect(await readFile(join(t.dir, 'a.txt'), 'utf8')).toBe(`change ${i}\n`);
      t.release();
      // distinct mtimes order the trees even on a coarse clock
      await new Promise((r) => setTimeout(r, 20));
    }
    const kept = (await trees()).map((n) => n.split('-')[1]);
    // the four newest, and the held first one, which eviction skipped
    expect(kept.sort()).toEqual([...made.slice(1), basename(held.dir).split('-')[1]!].sort());
    expect(existsSync(held.dir)).toBe(true);
    // builder du lists the repository and each tree by its remote
    const listed = await gitCacheEntries(root);
    expect(listed.map((e) => e.description).sort()).toEqual(
      [`shared git repo for ${src.remote}`, ...[...made.slice(1), basename(held.dir).split('-')[1]!].map((c) => `git snapshot for ${src.remote}#${c}`)].sort(),
    );
    expect(listed.every((e) => e.type === 'source.git.checkout' && e.size > 0)).toBe(true);
    // nothing is older than an hour: a prune with that filter keeps all
    expect((await pruneSourceCaches(root, { olderThanMs: 3_600_000 })).removed).toEqual([]);
    // prune while it is held: the repository and every other tree go, the held one stays
    const pruned = await pruneSourceCaches(root);
    expect(pruned.removed).toHaveLength(5);
    expect(pruned.bytes).toBeGreaterThan(0);
    expect(await trees()).toEqual([basename(held.dir)]);
    expect(await readFile(join(held.dir, 'a.txt'), 'utf8')).toBe('one\n');
    held.release();
    expect((await pruneSourceCaches(root)).removed).toEqual([`git-${basename(held.dir)}`]);
    expect(await readdir(join(root, 'cache', 'git', 'trees'))).toEqual([]);
  }, 120_000);

  test('a commit with export rules or submodules is not kept (git archive would change it)', async () => {
    await writeFile(join(tmp.path, 'repos', 'app.git', '.gitattributes'), 'secret export-ignore\n');
    g('add', '.gitattributes');
    g('commit', '-q', '-m', 'attrs');
    expect(await gitTree(src, await resolveGitCommit(src), root)).toBeUndefined();
    expect(await trees()).toEqual([]);
  }, 60_000);
});
