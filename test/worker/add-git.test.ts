import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isRoot, mountsUnder, tempDir } from '../support/tmp.js';
import { BUSYBOX_TAR } from '../support/cli.js';
import { freePort } from '../support/certs.js';
import { gitIn, serveGit } from '../support/git.js';
import { Engine } from '../../src/engine.js';
import type { ProgressEvent } from '../../src/build/types.js';

/**
 * `ADD <git URL>[#ref[:subdir]] /dst` against a `git daemon` on 127.0.0.1 started here: the commit
 * the ref names is checked out shallowly, keyed by that commit, `.git` only with --keep-git-dir.
 */
describe.runIf(isRoot)('ADD from git', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let engine: Engine;
  let gitd: Awaited<ReturnType<typeof serveGit>>;
  let repoUrl: string;
  let repo: string;
  const g = (...args: string[]) => gitIn(repo, tmp.path)(...args);

  beforeAll(async () => {
    tmp = await tempDir('tb-addgit-');
    engine = await Engine.open({ root: join(tmp.path, 'root') });
    await engine.load(createReadStream(BUSYBOX_TAR));
    const base = join(tmp.path, 'repos');
    repo = join(base, 'app.git');
    await mkdir(join(repo, 'sub'), { recursive: true });
    g('init', '-q', '-b', 'main');
    await writeFile(join(repo, 'README'), 'v1\n');
    await writeFile(join(repo, 'sub', 'inner.txt'), 'inner v1\n');
    g('add', '.');
    g('commit', '-q', '-m', 'one');
    g('tag', '-a', 'v1.0', '-m', 'release');
    await writeFile(join(repo, 'README'), 'v2\n');
    g('commit', '-q', '-am', 'two');
    gitd = await serveGit(base, 'app.git');
    repoUrl = gitd.url('app.git');
  }, 60_000);

  afterAll(async () => {
    gitd?.stop();
    await engine?.close();
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  }, 60_000);

  let n = 0;
  async function build(dockerfile: string) {
    const ctx = join(tmp.path, `ctx-${n}`);
    const out = join(tmp.path, `out-${n++}`);
    await mkdir(ctx);
    await writeFile(join(ctx, 'Dockerfile'), dockerfile);
    const events: ProgressEvent[] = [];
    await engine.build({ context: ctx, outputs: [{ type: 'local', dest: out }], network: 'none', onProgress: (e) => events.push(e) });
    const ran = events.flatMap((e) => (e.type === 'vertex' && e.vertex.completed && !e.vertex.cached && e.vertex.name.includes('ADD') ? [e.vertex.name] : []));
    return { out, ran };
  }

  test('the default branch, a tag, a subdir; .git only with --keep-git-dir', async () => {
    const { out } = await build(`FROM busybox:local\nADD ${repoUrl} /head\nADD ${repoUrl}#v1.0 /tag\nADD ${repoUrl}#main:sub /sub\nADD --keep-git-dir=true ${repoUrl}#v1.0 /withgit\n`);
    expect(await readFile(join(out, 'head/README'), 'utf8')).toBe('v2\n');
    expect((await readdir(join(out, 'head'))).sort()).toEqual(['README', 'sub']);
    expect(await readFile(join(out, 'tag/README'), 'utf8')).toBe('v1\n');
    expect(await readdir(join(out, 'sub'))).toEqual(['inner.txt']);
    expect((await readdir(join(out, 'withgit'))).sort()).toEqual(['.git', 'README', 'sub']);
  }, 120_000);

  test('a repository with a submodule gets the submodule\'s files (asked for only when the commit has a .gitmodules)', async () => {
    const base = join(tmp.path, 'repos');
    const lib = join(base, 'lib.git');
    await mkdir(lib, { recursive: true });
    const gl = gitIn(lib, tmp.path);
    gl('init', '-q', '-b', 'main');
    await writeFile(join(lib, 'lib.txt'), 'from the submodule\n');
    gl('add', '.');
    gl('commit', '-q', '-m', 'lib');
    const outer = join(base, 'outer.git');
    await mkdir(outer, { recursive: true });
    const go = gitIn(outer, tmp.path);
    go('init', '-q', '-b', 'main');
    await writeFile(join(outer, 'top.txt'), 'top\n');
    go('submodule', '-q', 'add', gitd.url('lib.git'), 'vendor/lib');
    go('add', '.');
    go('commit', '-q', '-m', 'with a submodule');
    const { out } = await build(`FROM busybox:local\nADD ${gitd.url('outer.git')} /app\n`);
    expect(await readFile(join(out, 'app/top.txt'), 'utf8')).toBe('top\n');
    expect(await readFile(join(out, 'app/vendor/lib/lib.txt'), 'utf8')).toBe('from the submodule\n');
  }, 120_000);

  test('keyed by the commit: unchanged ref hits the cache, a new commit runs again', async () => {
    const df = `FROM busybox:local\nADD ${repoUrl}#main /app\n`;
    await build(df);
    expect((await build(df)).ran).toEqual([]);
    await writeFile(join(repo, 'README'), 'v3\n');
    g('commit', '-q', '-am', 'three');
    const again = await build(df);
    expect(again.ran).toEqual([`[2/2] ADD ${repoUrl}#main /app`]);
    expect(await readFile(join(again.out, 'app/README'), 'utf8')).toBe('v3\n');
  }, 120_000);

  test('a git URL as the build context: the Dockerfile and files of that commit (#ref:subdir), -f inside it', async () => {
    await mkdir(join(repo, 'svc'), { recursive: true });
    await writeFile(join(repo, 'svc', 'Dockerfile'), 'FROM busybox:local\nCOPY inner.txt /got.txt\n');
    await writeFile(join(repo, 'svc', 'inner.txt'), 'from the repo\n');
    await writeFile(join(repo, 'svc', 'other.Dockerfile'), 'FROM busybox:local\nCOPY inner.txt /other.txt\n');
    g('add', '.');
    g('commit', '-q', '-m', 'svc');
    const out = join(tmp.path, 'git-ctx-out');
    await engine.build({ context: `${repoUrl}#main:svc`, outputs: [{ type: 'local', dest: out }], network: 'none' });
    expect(await readFile(join(out, 'got.txt'), 'utf8')).toBe('from the repo\n');
    const { runCli } = await import('../support/cli.js');
    const cliRoot = join(tmp.path, 'root-cli');
    expect((await runCli(['load', '-i', BUSYBOX_TAR], { root: cliRoot })).code).toBe(0);
    const cliOut = join(tmp.path, 'git-ctx-cli');
    const r = await runCli(['build', '--progress', 'plain', '-f', 'other.Dockerfile', '--network', 'none', '-o', `type=local,dest=${cliOut}`, `${repoUrl}#main:svc`], { root: cliRoot });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`[internal] load git source ${repoUrl}#main:svc`);
    expect(await readFile(join(cliOut, 'other.txt'), 'utf8')).toBe('from the repo\n');
  }, 120_000);

  test('a commit fetched once is kept in the root: rebuilt with --no-cache while the server is down, files as a checkout writes them', async () => {
    const base = join(tmp.path, 'repos');
    const kept = join(base, 'kept.git');
    await mkdir(join(kept, 'bin'), { recursive: true });
    const gk = gitIn(kept, tmp.path);
    gk('init', '-q', '-b', 'main');
    await writeFile(join(kept, 'bin', 'run.sh'), '#!/bin/sh\necho ran\n', { mode: 0o755 });
    await writeFile(join(kept, 'notes.txt'), 'kept\n');
    await symlink('notes.txt', join(kept, 'link'));
    gk('add', '.');
    gk('commit', '-q', '-m', 'kept');
    const commit = gk('rev-parse', 'HEAD');
    // a server of its own, stopped after the first build
    const server = await serveGit(base, 'kept.git');
    const df = `FROM busybox:local\nADD ${server.url('kept.git')}#${commit} /app\nRUN stat -c '%a %n' /app/bin/run.sh /app/notes.txt > /modes && readlink /app/link > /link\n`;
    const first = await build(df);
    server.stop();
    const ctx = join(tmp.path, `ctx-${n}`);
    const out = join(tmp.path, `out-${n++}`);
    await mkdir(ctx);
    await writeFile(join(ctx, 'Dockerfile'), df);
    await engine.build({ context: ctx, outputs: [{ type: 'local', dest: out }], network: 'none', noCache: true });
    for (const o of [first.out, out]) {
      expect(await readFile(join(o, 'app/notes.txt'), 'utf8')).toBe('kept\n');
      expect(await readFile(join(o, 'modes'), 'utf8')).toBe('755 /app/bin/run.sh\n644 /app/notes.txt\n');
      expect(await readFile(join(o, 'link'), 'utf8')).toBe('notes.txt\n');
    }
    const cached = join(tmp.path, 'root', 'cache', 'git');
    expect((await readdir(cached)).some((f) => f.endsWith('.git'))).toBe(true);
    // builder du lists the repository by its remote; builder prune takes it with the rest of the unused cache
    expect((await engine.df()).BuildCache!.map((r) => r.Description)).toContain(`shared git repo for ${server.url('kept.git')}`);
    const pruned = await engine.pruneBuildCache();
    expect(pruned.SpaceReclaimed).toBeGreaterThan(0);
    expect((await readdir(cached)).filter((f) => f.endsWith('.git'))).toEqual([]);
  }, 120_000);

  test('.gitattributes export rules do not change what ADD gets (it is a checkout, not an archive)', async () => {
    const base = join(tmp.path, 'repos');
    const attrs = join(base, 'attrs.git');
    await mkdir(attrs, { recursive: true });
    const ga = gitIn(attrs, tmp.path);
    ga('init', '-q', '-b', 'main');
    await writeFile(join(attrs, '.gitattributes'), 'hidden.txt export-ignore\nsubst.txt export-subst\n');
    await writeFile(join(attrs, 'hidden.txt'), 'still here\n');
    await writeFile(join(attrs, 'subst.txt'), '$Format:%H$\n');
    ga('add', '.');
    ga('commit', '-q', '-m', 'attrs');
    const { out } = await build(`FROM busybox:local\nADD ${gitd.url('attrs.git')} /app\n`);
    expect(await readFile(join(out, 'app/hidden.txt'), 'utf8')).toBe('still here\n');
    expect(await readFile(join(out, 'app/subst.txt'), 'utf8')).toBe('$Format:%H$\n');
  }, 120_000);

  test('an unknown ref and an unreachable repository are named', async () => {
    await expect(build(`FROM busybox:local\nADD ${repoUrl}#no-such-branch /x\n`)).rejects.toThrow(/no ref no-such-branch/);
    const closed = await freePort();
    await expect(build(`FROM busybox:local\nADD git://127.0.0.1:${closed}/nothing.git /x\n`)).rejects.toThrow(new RegExp(`git ls-remote git://127\\.0\\.0\\.1:${closed}/nothing\\.git`));
    await expect(build('FROM busybox:local\nADD --keep-git-dir=true Dockerfile /x\n')).rejects.toThrow(/--keep-git-dir applies to git sources only/);
  }, 120_000);
});
