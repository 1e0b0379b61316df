import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { isRoot, mountsUnder, tempDir } from '../support/tmp.js';
import { BUSYBOX_TAR, runCli } from '../support/cli.js';
import { makeRepo, serveGit } from '../support/git.js';
import { Engine } from '../../src/engine.js';
import { startChildDaemon } from '../daemon/support/child-daemon.js';
import { request } from '../daemon/support/raw.js';

/**
 * `--build-context NAME=<git URL>` and `NAME=<tarball URL>`: fetched into the build (a `git daemon`
 * and an HTTP server on 127.0.0.1 started here) and read by COPY --from=NAME like a directory.
 */
describe.runIf(isRoot)('named contexts from git and HTTP', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let engine: Engine;
  let gitd: Awaited<ReturnType<typeof serveGit>>;
  let http: Server;
  let repoUrl: string;
  let tarUrl: string;
  let dockerfileUrl: string;

  beforeAll(async () => {
    tmp = await tempDir('tb-rctx-');
    engine = await Engine.open({ root: join(tmp.path, 'root') });
    await engine.load(createReadStream(BUSYBOX_TAR));
    const base = join(tmp.path, 'repos');
    await makeRepo(join(base, 'lib.git'), tmp.path, {
      'top.txt': 'top of the repo\n',
      'sub/deep.txt': 'in the subdir\n',
      Dockerfile: 'FROM busybox:local\nCOPY top.txt /from-repo.txt\n',
    });
    gitd = await serveGit(base, 'lib.git');
    repoUrl = gitd.url('lib.git');
    // a gzipped tarball of a small tree, served over HTTP
    const tree = join(tmp.path, 'tree');
    await mkdir(join(tree, 'etc'), { recursive: true });
    await writeFile(join(tree, 'etc', 'app.conf'), 'from the tarball\n');
    execFileSync('tar', ['-czf', join(tmp.path, 'ctx.tar.gz'), '-C', tree, '.']);
    const tarball = await readFile(join(tmp.path, 'ctx.tar.gz'));
    http = createServer((req, res) => {
      if (req.url === '/ctx.tar.gz') res.end(tarball);
      else if (req.url === '/Dockerfile') res.end('FROM busybox:local\nRUN echo lone-dockerfile > /lone\n');
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    tarUrl = `http://127.0.0.1:${(http.address() as { port: number }).port}/ctx.tar.gz`;
    dockerfileUrl = tarUrl.replace('ctx.tar.gz', 'Dockerfile');
  }, 60_000);

  afterAll(async () => {
    gitd?.stop();
    await new Promise((r) => http?.close(r));
    await engine?.close();
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  }, 60_000);

  test('COPY --from reads a git repository (ref and subdir) and a tarball URL', async () => {
    const ctx = join(tmp.path, 'ctx');
    await mkdir(ctx, { recursive: true });
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:local\nCOPY --from=src top.txt /got/\nCOPY --from=deep . /got/deep/\nCOPY --from=pkg etc/app.conf /got/\n');
    const out = join(tmp.path, 'out');
    await engine.build({
      context: ctx,
      network: 'none',
      remoteContexts: { src: repoUrl, deep: `${repoUrl}#main:sub`, pkg: tarUrl },
      outputs: [{ type: 'local', dest: out }],
    });
    expect(await readFile(join(out, 'got', 'top.txt'), 'utf8')).toBe('top of the repo\n');
    expect(await readFile(join(out, 'got', 'deep', 'deep.txt'), 'utf8')).toBe('in the subdir\n');
    expect(await readFile(join(out, 'got', 'app.conf'), 'utf8')).toBe('from the tarball\n');
  }, 120_000);

  test('POST /build?remote=: a git repository, a context tarball and a lone Dockerfile at a URL', async () => {
    const d = await startChildDaemon(join(tmp.path, 'daemon'));
    try {
      expect((await d.docker(['load', '-i', BUSYBOX_TAR])).code).toBe(0);
      const build = (remote: string, extra = '') => request(d.socket, 'POST', `/build?remote=${encodeURIComponent(remote)}&t=remote-ctx:1${extra}`, '', { 'Content-Type': 'application/x-tar' });
      // the subdir and the tarball hold no Dockerfile: the build says it cannot read one
      const git = await build(`${repoUrl}#main:sub`);
      expect(git.body.toString()).toContain('failed to read dockerfile');
      const tarGz = await build(tarUrl);
      expect(tarGz.body.toString()).toContain('failed to read dockerfile');
      const ok = await build(dockerfileUrl);
      expect(ok.status).toBe(200);
      expect(ok.body.toString()).toContain('Step 2/2 : RUN echo lone-dockerfile');
      expect(ok.body.toString()).toContain('Successfully tagged remote-ctx:1');
      expect((await d.docker(['run', '--rm', '--network', 'none', 'remote-ctx:1', 'cat', '/lone'])).stdout).toBe('lone-dockerfile\n');
      const repo = await build(repoUrl);
      expect(repo.body.toString()).toContain('Successfully tagged remote-ctx:1');
      expect((await d.docker(['run', '--rm', '--network', 'none', 'remote-ctx:1', 'cat', '/from-repo.txt'])).stdout).toBe('top of the repo\n');
      const bad = await request(d.socket, 'POST', '/build?remote=ftp%3A%2F%2Fx%2Fy', '');
      expect(bad.status).toBe(400);
      // tbuild -H: the URL goes to the daemon as `remote`
      const viaCli = await runCli(['-H', `unix://${d.socket}`, 'build', '-t', 'remote-ctx:2', repoUrl]);
      expect(viaCli.code, viaCli.stderr).toBe(0);
      expect((await d.docker(['run', '--rm', '--network', 'none', 'remote-ctx:2', 'cat', '/from-repo.txt'])).stdout).toBe('top of the repo\n');
    } finally {
      expect(await d.stop()).toBe(0);
    }
  }, 120_000);

  test('credentials in a git URL never show: not in progress, the error or anything the build leaves', async () => {
    const events: unknown[] = [];
    const url = 'https://user:s3cret-token@127.0.0.1:9/repo.git';
    const err = (await engine.build({ context: url, network: 'none', onProgress: (e) => events.push(e) }).catch((e: unknown) => e)) as { code?: string; message: string };
    expect(err.code).toBe('TB_ADD_GIT');
    expect(err.message).toContain('https://user:xxxxx@127.0.0.1:9/repo.git');
    expect(err.message).not.toContain('s3cret');
    expect(JSON.stringify(events)).toContain('[internal] load git source https://user:xxxxx@127.0.0.1:9/repo.git');
    expect(JSON.stringify(events)).not.toContain('s3cret');
    // build records, logs, caches: grep finds nothing (exit 1)
    const left = spawnSync('grep', ['-rl', 's3cret', join(tmp.path, 'root')], { encoding: 'utf8' });
    expect(left.stdout).toBe('');
    expect(left.status).toBe(1);
  }, 60_000);

  test('the CLI takes them from --build-context; an unreachable one fails naming it', async () => {
    const root = join(tmp.path, 'cli-root');
    expect((await runCli(['load', '-i', BUSYBOX_TAR], { root })).code).toBe(0);
    const ctx = join(tmp.path, 'cli-ctx');
    await mkdir(ctx, { recursive: true });
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:local\nCOPY --from=src top.txt /top.txt\nCOPY --from=pkg etc/app.conf /app.conf\n');
    const ok = await runCli(['build', '-t', 'rctx:1', '--build-context', `src=${repoUrl}`, '--build-context', `pkg=${tarUrl}`, ctx], { root });
    expect(ok.code, ok.stderr).toBe(0);
    expect((await runCli(['run', '--rm', '--network', 'none', 'rctx:1', 'cat', '/top.txt', '/app.conf'], { root })).stdout).toBe('top of the repo\nfrom the tarball\n');
    const gone = await runCli(['build', '--build-context', `pkg=${tarUrl.replace('ctx.tar.gz', 'missing.tar.gz')}`, ctx], { root });
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toContain('missing.tar.gz');
  }, 120_000);
});
