import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startDaemon, type TestDaemon } from '../cli/remote/daemon.js';
import { BUSYBOX_TAR, ensureBusyboxArchive, ensureForeignBusyboxArchive } from '../support/busybox-image.js';
import { buildxConfig, dockerBuildx } from '../support/buildx.js';
import { isRoot, tempDir } from '../support/tmp.js';
import { freePort, makeCerts } from '../support/certs.js';
import { makeRepo, serveGit } from '../support/git.js';
import { runCli } from '../support/cli.js';

/**
 * `docker build` as every current Docker package runs it: the CLI 26 with the buildx 0.13 plugin,
 * talking BuildKit's gRPC API to a real `tbuild daemon` over `/grpc` and `/session`.
 */
describe.runIf(isRoot)('docker build with buildx against tbuild', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let daemon: TestDaemon;
  let config: string;
  const dx = (args: string[], opts: { cwd?: string } = {}) => dockerBuildx(daemon.host, config, args, opts);
  const ctx = (name: string, files: Record<string, string>) => {
    const dir = join(tmp.path, name);
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(join(dir, path, '..'), { recursive: true });
      writeFileSync(join(dir, path), content);
    }
    return dir;
  };

  beforeAll(async () => {
    await ensureBusyboxArchive();
    tmp = await tempDir('tb-buildx-');
    daemon = await startDaemon(tmp.path, { daemonArgs: ['--access-log'] });
    config = buildxConfig(tmp.path);
    const load = await dx(['load', '-i', BUSYBOX_TAR]);
    expect(load.code, load.stderr).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await daemon?.stop();
    await tmp?.cleanup();
  });

  test('buildx sees the default builder on the docker driver, running, with its platform', async () => {
    const r = await dx(['buildx', 'ls']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/default\*?\s+docker/);
    expect(r.stdout).toMatch(/default\s+running\s+v[\d.]+-tbuild\s+linux\/amd64/);
    const inspect = await dx(['buildx', 'inspect']);
    expect(inspect.stdout).toMatch(/Driver:\s+docker/);
  });

  test('build -t with --build-arg, --target and -f; the image runs', async () => {
    const dir = ctx('basic', {
      'build/app.Dockerfile': '# syntax=docker/dockerfile:1.7\nFROM busybox:local AS base\nARG GREETING=hi\nRUN echo "$GREETING from buildx" > /greeting\nCOPY data.txt /data.txt\nFROM base AS other\nRUN false\n',
      'data.txt': 'payload\n',
    });
    const r = await dx(['build', '-t', 'bx-basic', '--build-arg', 'GREETING=hello', '--target', 'base', '-f', join(dir, 'build/app.Dockerfile'), dir]);
    expect(r.code, r.stderr).toBe(0);
    const run = await dx(['run', '--rm', 'bx-basic', 'cat', '/greeting', '/data.txt']);
    expect(run.stdout).toBe('hello from buildx\npayload\n');
    // the build record knows the build by buildx's ref, as BuildKit's history API reports it
    const rec = await runCli(['builds', 'inspect', 'last'], { root: daemon.root });
    expect(rec.code, rec.stderr).toBe(0);
    const record = JSON.parse(rec.stdout) as { id: string; ref?: string; target?: string };
    expect(record.target).toBe('base');
    expect(record.ref).toMatch(/^[a-z0-9]{20,}$/);
    expect(record.ref).not.toBe(record.id);
  });

  test('a 3,000-file context honours .dockerignore, and a rebuild after one change transfers only that file', async () => {
    const files: Record<string, string> = { Dockerfile: 'FROM busybox:local\nCOPY . /app\nRUN ls /app/src | wc -l > /count\n', '.dockerignore': 'secret\n*.log\n', 'secret/key': 'no', 'debug.log': 'no' };
    for (let i = 0; i < 3000; i++) files[`src/f${i}.txt`] = `file ${i}\n`;
    const dir = ctx('big', files);
    const first = await dx(['build', '--progress', 'plain', '-t', 'bx-big', dir]);
    expect(first.code, first.stderr).toBe(0);
    const run = await dx(['run', '--rm', 'bx-big', 'sh', '-c', 'cat /count; ls -A /app']);
    expect(run.stdout.split('\n').map((s) => s.trim())).toEqual(['3000', '.dockerignore', 'Dockerfile', 'src', '']);
    writeFileSync(join(dir, 'src/f7.txt'), 'changed!\n');
    const second = await dx(['build', '--progress', 'plain', '-t', 'bx-big', dir]);
    expect(second.code, second.stderr).toBe(0);
    // Only the changed file's 9 bytes cross the session; the steps that do not read it stay cached.
    expect(second.stderr).toMatch(/transferring context: 9B done/);
    expect(second.stderr).toMatch(/\[1\/3\] FROM docker.io\/library\/busybox:local\n#\d+ CACHED/);
    expect(second.stderr).not.toMatch(/\[2\/3\] COPY[^\n]*\n#\d+ CACHED/);
    expect((await dx(['run', '--rm', 'bx-big', 'cat', '/app/src/f7.txt'])).stdout).toBe('changed!\n');
  }, 120_000);

  test('--build-context NAME=docker-image://REF stands in for FROM NAME; NAME=DIR is synced for COPY --from', async () => {
    const dir = ctx('named', { Dockerfile: 'FROM base\nCOPY --from=tools /bin/busybox /tools-busybox\nCOPY --from=extra . /extra/\nRUN echo named > /named\n' });
    const extra = ctx('named-extra', { 'lib.txt': 'named dir\n', 'skip.txt': 'no', '.dockerignore': 'skip.txt\n' });
    const r = await dx(['build', '-t', 'bx-named', '--build-context', 'base=docker-image://busybox:local', '--build-context', 'tools=docker-image://busybox:local', '--build-context', `extra=${extra}`, dir]);
    expect(r.code, r.stderr).toBe(0);
    const out = await dx(['run', '--rm', 'bx-named', 'sh', '-c', 'cat /named; test -x /tools-busybox && echo tools; ls -A /extra']);
    expect(out.stdout).toBe('named\ntools\n.dockerignore\nlib.txt\n');
  });

  test('--build-context NAME=<tarball URL> is fetched by the daemon for COPY --from', async () => {
    const tree = ctx('remote-tree', { 'etc/app.conf': 'from the tarball\n' });
    const tarball = execFileSync('tar', ['-cz', '-C', tree, '.']);
    const server = createServer((req, res) => (req.url === '/ctx.tgz' ? res.end(tarball) : res.writeHead(404).end()));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/ctx.tgz`;
      const dir = ctx('remote-named', { Dockerfile: 'FROM busybox:local\nCOPY --from=pkg etc/app.conf /app.conf\n' });
      const r = await dx(['build', '-t', 'bx-remote-named', '--build-context', `pkg=${url}`, dir]);
      expect(r.code, r.stderr).toBe(0);
      expect((await dx(['run', '--rm', 'bx-remote-named', 'cat', '/app.conf'])).stdout).toBe('from the tarball\n');
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  test('a git URL as the context is fetched by the daemon, with its own Dockerfile or the client\'s -f', async () => {
    const base = join(tmp.path, 'git-repos');
    await makeRepo(join(base, 'app.git'), tmp.path, { Dockerfile: 'FROM busybox:local\nCOPY hello.txt /hello.txt\n', 'hello.txt': 'from git\n' });
    const gitd = await serveGit(base, 'app.git');
    try {
      const url = gitd.url('app.git');
      const own = await dx(['build', '-t', 'bx-git', url]);
      expect(own.code, own.stderr).toBe(0);
      expect((await dx(['run', '--rm', 'bx-git', 'cat', '/hello.txt'])).stdout).toBe('from git\n');
      const mine = ctx('git-client-df', { 'Dockerfile.client': 'FROM busybox:local\nCOPY hello.txt /client.txt\n' });
      const client = await dx(['build', '-t', 'bx-git2', '-f', join(mine, 'Dockerfile.client'), `${url}#main`]);
      expect(client.code, client.stderr).toBe(0);
      expect((await dx(['run', '--rm', 'bx-git2', 'cat', '/client.txt'])).stdout).toBe('from git\n');
    } finally {
      gitd.stop();
    }
  });

  test('--add-host reaches every RUN step\'s /etc/hosts, host-gateway included', async () => {
    const dir = ctx('addhost', { Dockerfile: 'FROM busybox:local\nRUN grep -E "db|gw" /etc/hosts > /hosts\n' });
    const r = await dx(['build', '-t', 'bx-addhost', '--add-host', 'db:10.0.0.9', '--add-host', 'gw:host-gateway', dir]);
    expect(r.code, r.stderr).toBe(0);
    const hosts = (await dx(['run', '--rm', 'bx-addhost', 'cat', '/hosts'])).stdout;
    expect(hosts).toMatch(/^10\.0\.0\.9\s+db$/m);
    expect(hosts).toMatch(/^\d+\.\d+\.\d+\.\d+\s+gw$/m);
    // The classic path carries it too (`extrahosts`).
    const classic = await dockerBuildx(daemon.host, config, ['build', '-q', '--no-cache', '-t', 'bx-addhost2', '--add-host', 'db:10.0.0.7', dir], { env: { DOCKER_BUILDKIT: '0' } });
    expect(classic.code, classic.stderr).toBe(0);
    expect((await dx(['run', '--rm', 'bx-addhost2', 'cat', '/hosts'])).stdout).toMatch(/^10\.0\.0\.7\s+db$/m);
  });

  test('--shm-size and --ulimit reach RUN steps (buildx) and the classic builder', async () => {
    const dir = ctx('limits', { Dockerfile: 'FROM busybox:local\nRUN df -k /dev/shm | tail -1 | awk \'{print $2}\' > /shm && ulimit -n > /nofile\n' });
    const r = await dx(['build', '--shm-size', '256m', '--ulimit', 'nofile=1500:1600', '-t', 'bx-limits', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect((await dx(['run', '--rm', 'bx-limits', 'cat', '/shm', '/nofile'])).stdout).toBe(`${256 * 1024}\n1500\n`);
    const classic = await dockerBuildx(daemon.host, config, ['build', '--shm-size', '96m', '--ulimit', 'nofile=700:800', '-t', 'bx-limits-classic', dir], { env: { DOCKER_BUILDKIT: '0' } });
    expect(classic.code, classic.stderr).toBe(0);
    expect((await dx(['run', '--rm', 'bx-limits-classic', 'cat', '/shm', '/nofile'])).stdout).toBe(`${96 * 1024}\n700\n`);
  }, 120_000);

  test('build check warnings reach buildx with their rule and line', async () => {
    const dir = ctx('warn', { Dockerfile: 'FROM busybox:local as base\nRUN true\n' });
    const r = await dx(['build', '--progress', 'plain', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/1 warning found/);
    expect(r.stderr).toMatch(/FromAsCasing: .*\(line 1\)/);
  });

  test('a finished build leaves no connection open: every /grpc and /session upgrade ends', async () => {
    const dir = ctx('conns', { Dockerfile: 'FROM busybox:local\nRUN true\n' });
    const before = (daemon.log().match(/POST \/(grpc|session) upgraded/g) ?? []).length;
    expect((await dx(['build', '-q', dir])).code).toBe(0);
    // The CLI has exited: each connection it upgraded is logged as ended (the daemon runs with --access-log).
    let ended = 0;
    for (let i = 0; i < 50 && ended < 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
      ended = (daemon.log().match(/POST \/(grpc|session) upgraded/g) ?? []).length - before;
    }
    expect(ended).toBeGreaterThanOrEqual(2);
    expect(daemon.log().slice(-4000)).not.toMatch(/upgraded \d{5,}/);
  });

  test('a rebuild shows CACHED in plain progress', async () => {
    const dir = ctx('cached', { Dockerfile: 'FROM busybox:local\nRUN echo once > /once\n' });
    expect((await dx(['build', '-t', 'bx-cached', dir])).code).toBe(0);
    const again = await dx(['build', '--progress', 'plain', '-t', 'bx-cached', dir]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/\[2\/2\] RUN echo once > \/once\n#\d+ CACHED/);
  });

  test('--secret reaches RUN --mount=type=secret and stays out of the image', async () => {
    const dir = ctx('secret', { Dockerfile: 'FROM busybox:local\nRUN --mount=type=secret,id=token cat /run/secrets/token > /seen-length && wc -c < /run/secrets/token > /seen-length\n' });
    writeFileSync(join(tmp.path, 'token.txt'), 's3cr3t-value');
    const r = await dx(['build', '-t', 'bx-secret', '--secret', `id=token,src=${join(tmp.path, 'token.txt')}`, dir]);
    expect(r.code, r.stderr).toBe(0);
    const run = await dx(['run', '--rm', 'bx-secret', 'sh', '-c', 'cat /seen-length; ls /run/secrets 2>&1 || true']);
    expect(run.stdout.trim().split('\n')[0]!.trim()).toBe('12');
    const save = await dx(['image', 'history', '--no-trunc', 'bx-secret']);
    expect(save.stdout).not.toContain('s3cr3t-value');
  });

  test('--ssh default forwards the client\'s ssh-agent to RUN --mount=type=ssh', async () => {
    // A real agent (ours, by PID) holding a fresh key, and the host's ssh-add with its libraries in
    // the image to ask it for its keys from inside the step.
    const { spawn, execFileSync } = await import('node:child_process');
    const sock = join(tmp.path, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 50 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 100));
      const key = join(tmp.path, 'id_test');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'tbuild-ssh-test', '-f', key]);
      execFileSync('ssh-add', [key], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
      const dir = ctx('ssh', { Dockerfile: 'FROM busybox:local\nCOPY rootfs/ /\nRUN --mount=type=ssh ssh-add -l && echo "sock=$SSH_AUTH_SOCK"\n' });
      const libs = execFileSync('ldd', ['/usr/bin/ssh-add']).toString().match(/\/lib[^\s]*/g) ?? [];
      for (const f of ['/usr/bin/ssh-add', ...libs]) {
        mkdirSync(join(dir, 'rootfs', f, '..'), { recursive: true });
        copyFileSync(f, join(dir, 'rootfs', f));
      }
      const r = await dockerBuildx(daemon.host, config, ['build', '--progress', 'plain', '--ssh', 'default', dir], { env: { SSH_AUTH_SOCK: sock } });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/ED25519/);
      expect(r.stderr).toContain('tbuild-ssh-test');
      expect(r.stderr).toContain('sock=/run/buildkit/ssh_agent.0');
    } finally {
      agent.kill('SIGTERM');
    }
  });

  test('FROM a private registry image pulls with the client\'s docker login, asked over the session', async () => {
    const { makeTestArchive, run, startRegistry } = await import('../support/registry.js');
    // A TLS registry with htpasswd: no anonymous pulls. The daemon trusts its CA and holds no
    // credentials of its own, so only the client's login (via the session's Auth) can open it.
    const reg = await startRegistry('tls-basic');
    const privDir = join(tmp.path, 'private-daemon');
    mkdirSync(privDir);
    process.env.TBUILD_REGISTRY_CERTS_DIR = reg.certsDir;
    const priv = await startDaemon(privDir).finally(() => delete process.env.TBUILD_REGISTRY_CERTS_DIR);
    const pd = (args: string[]) => dockerBuildx(priv.host, config, args);
    try {
      const archive = await makeTestArchive(tmp.path);
      const copied = await run('skopeo', ['copy', '-q', ...reg.skopeoFlags('dest'), `docker-archive:${archive.file}`, `docker://${reg.host}/test/private:1`]);
      expect(copied.code, copied.stderr).toBe(0);
      const dir = ctx('private', { Dockerfile: `FROM ${reg.host}/test/private:1\nRUN cat /hello.txt > /seen\n` });
      const before = await pd(['build', dir]);
      expect(before.code).not.toBe(0);
      expect(before.stderr).toMatch(/unauthorized|authentication required|denied|credentials/i);
      const login = await pd(['login', '-u', reg.user!.username, '-p', reg.user!.password, reg.host]);
      expect(login.code, login.stderr).toBe(0);
      const after = await pd(['build', '--progress', 'plain', '-t', 'bx-private', dir]);
      expect(after.code, after.stderr).toBe(0);
      expect(after.stderr).toContain(`[internal] pull ${reg.host}/test/private:1`);
    } finally {
      await pd(['logout', reg.host]);
      await priv.stop();
      await reg.stop();
    }
  }, 180_000);

  test("a token registry: the client fetches each bearer token itself over the session (Auth.FetchToken), as with BuildKit", async () => {
    const { makeTestArchive, run, startRegistry } = await import('../support/registry.js');
    const reg = await startRegistry('token');
    const tokDir = join(tmp.path, 'token-daemon');
    mkdirSync(tokDir);
    const td = await startDaemon(tokDir);
    const pd = (args: string[]) => dockerBuildx(td.host, config, args);
    try {
      const archive = await makeTestArchive(tmp.path);
      const copied = await run('skopeo', ['copy', '-q', ...reg.skopeoFlags('dest'), `docker-archive:${archive.file}`, `docker://${reg.host}/test/tokened:1`]);
      expect(copied.code, copied.stderr).toBe(0);
      const login = await pd(['login', '-u', reg.user!.username, '-p', reg.user!.password, reg.host]);
      expect(login.code, login.stderr).toBe(0);
      const before = reg.tokenClients.length;
      const dir = ctx('tokened', { Dockerfile: `FROM ${reg.host}/test/tokened:1\nRUN cat /hello.txt > /seen\n` });
      const r = await pd(['build', '--progress', 'plain', '-t', 'bx-tokened', dir]);
      expect(r.code, r.stderr).toBe(0);
      const during = reg.tokenClients.slice(before);
      // every token of the build's pull was fetched by the client, none by the daemon
      expect(during.length).toBeGreaterThan(0);
      for (const agent of during) expect(agent, during.join('\n')).not.toMatch(/^tbuild/);
    } finally {
      await pd(['logout', reg.host]);
      await td.stop();
      await reg.stop();
    }
  }, 180_000);

  test('--cache-to type=inline with --push, and type=registry; --cache-from on a fresh daemon takes every step from them', async () => {
    const { makeTestArchive, run, startRegistry } = await import('../support/registry.js');
    const reg = await startRegistry('plain');
    const freshDir = join(tmp.path, 'cache-daemon');
    mkdirSync(freshDir);
    const fresh = await startDaemon(freshDir);
    try {
      const archive = await makeTestArchive(tmp.path);
      const base = `${reg.host}/test/busybox:1`;
      const copied = await run('skopeo', ['copy', '-q', ...reg.skopeoFlags('dest'), `docker-archive:${archive.file}`, `docker://${base}`]);
      expect(copied.code, copied.stderr).toBe(0);
      const dir = ctx('remote-cache', { Dockerfile: `FROM ${base}\nRUN od -An -N8 -tx1 /dev/urandom > /at\n` });
      const name = `${reg.host}/bx/cached:1`;
      const first = await dx(['build', '--progress', 'plain', '--cache-to', 'type=inline', '--push', '-t', name, dir]);
      expect(first.code, first.stderr).toBe(0);
      const second = await dockerBuildx(fresh.host, config, ['build', '--progress', 'plain', '--cache-from', name, '-t', 'bx-cached', dir]);
      expect(second.code, second.stderr).toBe(0);
      expect(second.stderr).toContain(`importing cache manifest from ${name}`);
      expect(second.stderr).toMatch(/\[2\/2\] RUN od[^\n]*\n#\d+ CACHED/);
      const at = (h: string, image: string) => dockerBuildx(h, config, ['run', '--rm', image, 'cat', '/at']).then((r) => r.stdout);
      expect(await at(fresh.host, 'bx-cached')).toBe(await at(daemon.host, name));
      // the worker advertises its snapshotter, so buildx's docker driver offers registry caches too
      const ref = `${reg.host}/bx/cache:max`;
      const maxDir = ctx('remote-cache-max', { Dockerfile: `FROM ${base}\nRUN od -An -N8 -tx1 /dev/urandom > /at\nRUN cp /at /again\n` });
      const exported = await dx(['build', '--progress', 'plain', '--cache-to', `type=registry,ref=${ref},mode=max`, '-t', 'bx-max', maxDir]);
      expect(exported.code, exported.stderr).toBe(0);
      expect(exported.stderr).toContain('exporting cache to registry');
      const imported = await dockerBuildx(fresh.host, config, ['build', '--progress', 'plain', '--cache-from', `type=registry,ref=${ref}`, '-t', 'bx-max', maxDir]);
      expect(imported.code, imported.stderr).toBe(0);
      expect(imported.stderr).toMatch(/\[3\/3\] RUN cp[^\n]*\n#\d+ CACHED/);
      expect(await at(fresh.host, 'bx-max')).toBe(await at(daemon.host, 'bx-max'));
    } finally {
      await fresh.stop();
      await reg.stop();
    }
  }, 180_000);

  test('-o type=local, -o type=tar, --iidfile and --metadata-file', async () => {
    const dir = ctx('outputs', { Dockerfile: 'FROM busybox:local\nRUN echo out > /made\n' });
    const local = join(tmp.path, 'out-local');
    const r1 = await dx(['build', '-o', `type=local,dest=${local}`, dir]);
    expect(r1.code, r1.stderr).toBe(0);
    expect(readFileSync(join(local, 'made'), 'utf8')).toBe('out\n');
    expect(readdirSync(local)).toContain('bin');
    const tarPath = join(tmp.path, 'out.tar');
    const r2 = await dx(['build', '-o', `type=tar,dest=${tarPath}`, dir]);
    expect(r2.code, r2.stderr).toBe(0);
    const { execFileSync } = await import('node:child_process');
    expect(execFileSync('tar', ['tf', tarPath]).toString().split('\n')).toContain('made');
    const iid = join(tmp.path, 'iid');
    const md = join(tmp.path, 'md.json');
    const r3 = await dx(['build', '-t', 'bx-out', '--iidfile', iid, '--metadata-file', md, dir]);
    expect(r3.code, r3.stderr).toBe(0);
    const id = readFileSync(iid, 'utf8').trim();
    const meta = JSON.parse(readFileSync(md, 'utf8')) as Record<string, string>;
    expect(meta['containerimage.config.digest']).toBe(id);
    expect(meta['image.name']).toBe('bx-out');
    const inspect = await dx(['image', 'inspect', '-f', '{{.Id}}', 'bx-out']);
    expect(inspect.stdout.trim()).toBe(id);
  });

  test('--annotation reaches the manifest (and with type=oci its descriptor); an index annotation is refused by name', async () => {
    const dir = ctx('annotated', { Dockerfile: 'FROM busybox:local\nRUN echo ann > /ann\n' });
    const tarPath = join(tmp.path, 'annotated-oci.tar');
    const r = await dx(['build', '--annotation', 'org.opencontainers.image.title=Bx', '--annotation', 'manifest-descriptor:d=1', '-o', `type=oci,dest=${tarPath}`, dir]);
    expect(r.code, r.stderr).toBe(0);
    const { execFileSync } = await import('node:child_process');
    const index = JSON.parse(execFileSync('tar', ['-xOf', tarPath, 'index.json']).toString()) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
    expect(index.manifests[0]!.annotations).toMatchObject({ d: '1' });
    const manifest = JSON.parse(execFileSync('tar', ['-xOf', tarPath, `blobs/sha256/${index.manifests[0]!.digest.slice(7)}`]).toString()) as { annotations?: Record<string, string> };
    expect(manifest.annotations).toEqual({ 'org.opencontainers.image.title': 'Bx' });
    // (buildx 0.13 sends `--annotation index:k=v` as a manifest key "index:k"; BuildKit's own attribute names the index)
    const refused = await dx(['build', '-o', 'type=image,name=bx-ann,annotation-index.k=v', dir]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('index annotations not supported for single platform export');
  });

  test('a failing RUN exits non-zero with the Dockerfile excerpt and the exit code', async () => {
    const dir = ctx('fail', { Dockerfile: 'FROM busybox:local\nRUN echo before\nRUN sh -c "echo doomed >&2; exit 3"\n' });
    const r = await dx(['build', '--progress', 'plain', dir]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('Dockerfile:3');
    expect(r.stderr).toMatch(/>>> RUN sh -c "echo doomed >&2; exit 3"/);
    expect(r.stderr).toContain('doomed');
    expect(r.stderr).toMatch(/ERROR: failed to solve: process "\/bin\/sh -c sh -c \\"echo doomed >&2; exit 3\\"" did not complete successfully: exit code: 3/);
  });

  test('what tbuild does not carry out is refused by name', async () => {
    const foreign = ctx('foreign-syntax', { Dockerfile: '# syntax=example.com/other/frontend:2\nFROM busybox:local\n' });
    const r = await dx(['build', foreign]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/syntax example.com\/other\/frontend:2: tbuild builds Dockerfiles with its built-in frontend/);
  });

  test('--platform linux/arm64 builds for arm64 under emulation; the worker lists the emulated platforms', async () => {
    const load = await dx(['load', '-i', await ensureForeignBusyboxArchive()]);
    expect(load.code, load.stderr).toBe(0);
    const dir = ctx('arm64', { Dockerfile: 'FROM busybox:arm64\nARG TARGETARCH\nRUN echo "$(uname -m) $TARGETARCH" > /m\nCMD ["cat", "/m"]\n' });
    const r = await dx(['build', '--platform', 'linux/arm64', '-t', 'bx-arm64', dir]);
    expect(r.code, r.stderr).toBe(0);
    const arch = await dx(['image', 'inspect', '--format', '{{.Os}}/{{.Architecture}}', 'bx-arm64']);
    expect(arch.stdout.trim()).toBe('linux/arm64');
    const run = await dx(['run', '--rm', 'bx-arm64']);
    expect(run.stdout).toBe('aarch64 arm64\n');
    // the create response's warning, printed by the Docker CLI; none with --platform
    expect(run.stderr).toContain("WARNING: The requested image's platform (linux/arm64) does not match the detected host platform");
    const asked = await dx(['run', '--rm', '--platform', 'linux/arm64', 'bx-arm64']);
    expect(asked.stdout).toBe('aarch64 arm64\n');
    expect(asked.stderr).not.toContain('WARNING');
    const ls = await dx(['buildx', 'inspect']);
    expect(ls.stdout).toMatch(/Platforms:\s+linux\/amd64.*linux\/arm64/);
  });

  test('buildx du lists the build cache and buildx prune -af empties it', async () => {
    const du = await dx(['buildx', 'du']);
    expect(du.code, du.stderr).toBe(0);
    expect(du.stdout).toMatch(/Total:\s+[\d.]+[kMG]?B/);
    const prune = await dx(['buildx', 'prune', '-af']);
    expect(prune.code, prune.stderr).toBe(0);
    const after = await dx(['buildx', 'du']);
    expect(after.stdout).toMatch(/Total:\s+0B/);
  });

  test('buildx create --driver remote to the mutual-TLS --buildkit-addr builds, and --load lands the image; registry and local caches, a multi-platform push', async () => {
    const certs = join(tmp.path, 'certs');
    mkdirSync(certs);
    await makeCerts(certs);
    const port = await freePort();
    const c = (f: string) => join(certs, f);
    const remoteDir = join(tmp.path, 'remote-daemon');
    mkdirSync(remoteDir);
    const remote = await startDaemon(remoteDir, {
      daemonArgs: ['--tlsverify', '--tlscacert', c('ca.pem'), '--tlscert', c('server-cert.pem'), '--tlskey', c('server-key.pem'), '--buildkit-addr', `tcp://127.0.0.1:${port}`],
    });
    try {
      expect((await dockerBuildx(remote.host, config, ['load', '-i', BUSYBOX_TAR])).code).toBe(0);
      const create = await dx(['buildx', 'create', '--name', 'tbremote', '--driver', 'remote', '--driver-opt', `cacert=${c('ca.pem')},cert=${c('cert.pem')},key=${c('key.pem')}`, `tcp://127.0.0.1:${port}`]);
      expect(create.code, create.stderr).toBe(0);
      const dir = ctx('remote', { Dockerfile: 'FROM busybox:local\nRUN echo built-remotely > /where\n' });
      const r = await dx(['buildx', 'build', '--builder', 'tbremote', '--progress', 'plain', '-t', 'bx-remote', '--load', dir]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/building with "tbremote" instance using remote driver/);
      expect((await dx(['run', '--rm', 'bx-remote', 'cat', '/where'])).stdout).toBe('built-remotely\n');
      // The remote builder exports its cache to a registry; the docker-driver daemon imports it.
      const { startRegistry } = await import('../support/registry.js');
      const reg = await startRegistry('plain');
      try {
        const cached = ctx('remote-cached', { Dockerfile: 'FROM busybox:local\nRUN od -An -N8 -tx1 /dev/urandom > /at\n' });
        const ref = `${reg.host}/bx/cache:max`;
        const exported = await dx(['buildx', 'build', '--builder', 'tbremote', '--progress', 'plain', '--cache-to', `type=registry,ref=${ref},mode=max`, cached]);
        expect(exported.code, exported.stderr).toBe(0);
        expect(exported.stderr).toMatch(/exporting cache to registry[^\n]*\n(#\d+ [^\n]*\n)*#\d+ DONE/);
        const imported = await dx(['build', '--progress', 'plain', '--cache-from', `type=registry,ref=${ref}`, '-t', 'bx-remote-cached', cached]);
        expect(imported.code, imported.stderr).toBe(0);
        expect(imported.stderr).toMatch(/\[2\/2\] RUN od[^\n]*\n#\d+ CACHED/);
        // several platforms: a remote builder pushes the manifest list itself
        expect((await dockerBuildx(remote.host, config, ['load', '-i', await ensureForeignBusyboxArchive()])).code).toBe(0);
        expect((await dockerBuildx(remote.host, config, ['tag', 'busybox:local', 'busybox:amd64'])).code).toBe(0);
        const multi = ctx('remote-multi', { Dockerfile: 'ARG TARGETARCH\nFROM busybox:$TARGETARCH\nRUN uname -m > /m\n' });
        const multiName = `${reg.host}/bx/multi:remote`;
        const pushedMulti = await dx(['buildx', 'build', '--builder', 'tbremote', '--platform', 'linux/amd64,linux/arm64', '--push', '-t', multiName, multi]);
        expect(pushedMulti.code, pushedMulti.stderr).toBe(0);
        const list = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${multiName}`]).toString()) as { manifests: Array<{ platform: { architecture: string } }> };
        expect(list.manifests.map((m) => m.platform.architecture)).toEqual(['amd64', 'arm64']);
        // type=local: the directory is the client's; the builder reaches it through the session's content store
        const localCache = join(tmp.path, 'bx-local-cache');
        const fresh = ctx('local-cached', { Dockerfile: 'FROM busybox:local\nRUN od -An -N8 -tx1 /dev/urandom > /at\nRUN cp /at /again\n' });
        const toLocal = await dx(['buildx', 'build', '--builder', 'tbremote', '--progress', 'plain', '--cache-to', `type=local,dest=${localCache},mode=max`, '-t', 'bx-local', '--load', fresh]);
        expect(toLocal.code, toLocal.stderr).toBe(0);
        expect(toLocal.stderr).toMatch(/exporting cache to client directory[^\n]*\n(#\d+ [^\n]*\n)*#\d+ DONE/);
        const index = JSON.parse(readFileSync(join(localCache, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
        const tagged = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'latest');
        expect(tagged?.digest).toMatch(/^sha256:/);
        expect(existsSync(join(localCache, 'blobs', 'sha256', tagged!.digest.slice(7)))).toBe(true);
        // the docker-driver daemon never built it: every step comes from the client's directory
        const fromLocal = await dx(['build', '--progress', 'plain', '--cache-from', `type=local,src=${localCache}`, '-t', 'bx-local-imported', fresh]);
        expect(fromLocal.code, fromLocal.stderr).toBe(0);
        expect(fromLocal.stderr).toMatch(/\[2\/3\] RUN od[^\n]*\n#\d+ CACHED/);
        expect(fromLocal.stderr).toMatch(/\[3\/3\] RUN cp[^\n]*\n#\d+ CACHED/);
        const at = async (tag: string) => (await dx(['run', '--rm', tag, 'cat', '/again'])).stdout;
        expect(await at('bx-local-imported')).toBe(await at('bx-local'));
        // a second export into the same directory moves the tag and keeps the blobs it still names
        const again = await dx(['buildx', 'build', '--builder', 'tbremote', '--cache-to', `type=local,dest=${localCache},mode=max,tag=v2`, fresh]);
        expect(again.code, again.stderr).toBe(0);
        const tags = (JSON.parse(readFileSync(join(localCache, 'index.json'), 'utf8')) as typeof index).manifests.map((m) => m.annotations?.['org.opencontainers.image.ref.name']);
        expect(tags).toEqual(expect.arrayContaining(['latest', 'v2']));
        // the docker driver (plain `docker build`) exports the same way
        const viaDocker = await dx(['build', '--progress', 'plain', '--cache-to', `type=local,dest=${join(tmp.path, 'bx-local-cache2')}`, fresh]);
        expect(viaDocker.code, viaDocker.stderr).toBe(0);
        expect(viaDocker.stderr).toContain('exporting cache to client directory');
        expect(readFileSync(join(tmp.path, 'bx-local-cache2', 'index.json'), 'utf8')).toContain('"org.opencontainers.image.ref.name":"latest"');
      } finally {
        await reg.stop();
      }
      // Without a client certificate the listener refuses the connection.
      const outcome = await new Promise<string>((resolve) => {
        const s = tlsConnect({ host: '127.0.0.1', port, ca: readFileSync(c('ca.pem')), ALPNProtocols: ['h2'] }, () => {
          s.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
        });
        s.on('error', (e) => resolve(`error: ${e.message}`));
        s.on('close', () => resolve('closed'));
      });
      expect(outcome).toMatch(/certificate|closed|reset/i);
    } finally {
      await dx(['buildx', 'rm', 'tbremote']);
      await remote.stop();
    }
  }, 180_000);

  test('--platform linux/amd64,linux/arm64: -o type=local gives a directory per platform, -o type=oci an index; the docker driver\'s store is refused by name', async () => {
    expect((await dx(['load', '-i', await ensureForeignBusyboxArchive()])).code).toBe(0);
    expect((await dx(['tag', 'busybox:local', 'busybox:amd64'])).code).toBe(0);
    const dir = ctx('multi', { Dockerfile: 'ARG TARGETARCH\nFROM busybox:$TARGETARCH\nRUN uname -m > /m\n' });
    const out = join(tmp.path, 'multi-out');
    const local = await dx(['build', '--progress', 'plain', '--platform', 'linux/amd64,linux/arm64', '-o', `type=local,dest=${out}`, dir]);
    expect(local.code, local.stderr).toBe(0);
    expect(local.stderr).toMatch(/\[linux\/arm64 2\/2\] RUN uname -m/);
    expect(readFileSync(join(out, 'linux_amd64', 'm'), 'utf8')).toBe('x86_64\n');
    expect(readFileSync(join(out, 'linux_arm64', 'm'), 'utf8')).toBe('aarch64\n');
    const oci = join(tmp.path, 'multi.oci.tar');
    const ociBuild = await dx(['build', '--platform', 'linux/amd64,linux/arm64', '-o', `type=oci,dest=${oci}`, dir]);
    expect(ociBuild.code, ociBuild.stderr).toBe(0);
    const index = JSON.parse(execFileSync('tar', ['-xOf', oci, 'index.json']).toString()) as { manifests: Array<{ mediaType: string }> };
    expect(index.manifests[0]!.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    // the docker driver stores the result (and pushes it from the store): refused by name
    for (const args of [['-t', 'bx-multi'], ['--push', '-t', '127.0.0.1:5999/bx/multi:1']]) {
      const r = await dx(['build', '--platform', 'linux/amd64,linux/arm64', ...args, dir]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/several platforms \(linux\/amd64,linux\/arm64\) with the docker driver: its image store keeps one platform per name/);
    }
  }, 180_000);

  test('the classic builder still answers DOCKER_BUILDKIT=0', async () => {
    const dir = ctx('classic', { Dockerfile: 'FROM busybox:local\nRUN echo classic > /c\n' });
    const r = await dockerBuildx(daemon.host, config, ['build', '-t', 'bx-classic', dir], { env: { DOCKER_BUILDKIT: '0' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Successfully tagged bx-classic:latest');
  });
});
