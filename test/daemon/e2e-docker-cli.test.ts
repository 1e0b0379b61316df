import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isRoot, mountsUnder, tempDir } from '../support/tmp.js';
import { BUSYBOX_TAR } from '../support/cli.js';
import { hasDocker } from './support/docker.js';
import { startChildDaemon, type ChildDaemon } from './support/child-daemon.js';
import { request } from './support/raw.js';
import { connect } from 'node:net';
import { readdir } from 'node:fs/promises';
import { pack } from 'tar-stream';

async function listTree(dir: string, out: string[] = []): Promise<string[]> {
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    out.push(p);
    if (e.isDirectory() && !e.isSymbolicLink()) await listTree(p, out);
  }
  return out;
}

async function tarBuffer(entries: Array<{ name: string; content?: string; type?: 'file' | 'symlink'; linkname?: string }>): Promise<Buffer> {
  const p = pack();
  for (const e of entries) p.entry({ name: e.name, type: e.type ?? 'file', linkname: e.linkname }, e.content ?? '');
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const hasScript = existsSync('/usr/bin/script');

/** The stock Docker CLI driving `tbuild daemon` (real engine, runc, overlayfs) end to end. */
describe.runIf(hasDocker && isRoot)('docker CLI against tbuild daemon (real engine)', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let d: ChildDaemon;
  const ctxDir = (name: string) => join(tmp.path, name);
  const writeCtx = async (name: string, files: Record<string, string>) => {
    const dir = ctxDir(name);
    for (const [p, c] of Object.entries(files)) {
      await mkdir(join(dir, p, '..'), { recursive: true });
      await writeFile(join(dir, p), c);
    }
    return dir;
  };

  beforeAll(async () => {
    tmp = await tempDir('tbe-');
    d = await startChildDaemon(tmp.path);
    const load = await d.docker(['load', '-i', BUSYBOX_TAR]);
    expect(load.stdout).toBe('Loaded image: busybox:local\n');
  }, 60_000);

  afterAll(async () => {
    if (d) {
      const ids = (await d.docker(['ps', '-aq'])).stdout.trim().split('\n').filter(Boolean);
      if (ids.length) await d.docker(['rm', '-f', '-v', ...ids]);
      expect(await d.stop()).toBe(0);
      // Graceful stop released the lock and removed the socket.
      expect(existsSync(join(d.root, 'daemon.lock'))).toBe(false);
      expect(existsSync(d.socket)).toBe(false);
    }
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  }, 60_000);

  test('version and info', async () => {
    const v = await d.docker(['version', '--format', '{{.Server.APIVersion}} {{.Server.Os}}']);
    expect(v).toMatchObject({ code: 0, stdout: '1.47 linux\n' });
    const i = await d.docker(['info', '--format', '{{.Driver}}|{{.Images}}|{{.DockerRootDir}}|{{.CgroupVersion}}']);
    expect(i.stdout.trim()).toMatch(new RegExp(`^overlay2\\|1\\|${d.root}\\|[12]$`));
  });

  test('build: -t, --build-arg, output of RUN, cache on rebuild, run the result', async () => {
    const dir = await writeCtx('ctx1', {
      Dockerfile: 'FROM busybox:local\nARG WHO=nobody\nRUN echo hello $WHO\nCOPY a.txt /a.txt\nCMD ["cat", "/a.txt"]\n',
      'a.txt': 'content of a\n',
    });
    const b = await d.docker(['build', '-t', 'app:1', '--build-arg', 'WHO=world', dir], { timeoutMs: 120_000 });
    expect(b.code).toBe(0);
    expect(b.stdout).toContain('Step 1/5 : FROM busybox:local\n');
    expect(b.stdout).toContain('Step 3/5 : RUN echo hello $WHO\n');
    expect(b.stdout).toMatch(/\nhello world\n/);
    expect(b.stdout).toMatch(/Successfully built [0-9a-f]{12}\nSuccessfully tagged app:1\n/);
    const again = await d.docker(['build', '-t', 'app:1', '--build-arg', 'WHO=world', dir], { timeoutMs: 120_000 });
    expect(again.stdout).toContain(' ---> Using cache\n');
    expect(/Successfully built (\w+)/.exec(again.stdout)?.[1]).toBe(/Successfully built (\w+)/.exec(b.stdout)?.[1]);
    const run = await d.docker(['run', '--rm', 'app:1']);
    expect(run).toMatchObject({ code: 0, stdout: 'content of a\n' });
  }, 180_000);

  test('build: -f, --target, -q with --iidfile, failure exit code and message', async () => {
    const dir = await writeCtx('ctx2', {
      'sub/Build.file': 'FROM busybox:local AS one\nRUN echo one > /one\nFROM one AS two\nRUN exit 7\n',
    });
    const iid = join(tmp.path, 'iid.txt');
    const q = await d.docker(['build', '-q', '--iidfile', iid, '-f', join(dir, 'sub/Build.file'), '--target', 'one', dir], { timeoutMs: 120_000 });
    expect(q.code).toBe(0);
    expect(q.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect((await readFile(iid, 'utf8')).trim()).toBe(q.stdout.trim());
    // A Dockerfile outside the context: the CLI appends it to the context tar under another name.
    const outside = await writeCtx('ctx2-outside', { 'Outside.df': 'FROM busybox:local\nRUN echo from-outside\n' });
    const out = await d.docker(['build', '-f', join(outside, 'Outside.df'), dir], { timeoutMs: 120_000 });
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('from-outside\n');
    const fail = await d.docker(['build', '-f', join(dir, 'sub/Build.file'), dir], { timeoutMs: 120_000 });
    expect(fail.code).toBe(7);
    expect(fail.stderr).toContain("The command '/bin/sh -c exit 7' returned a non-zero code: 7");
  }, 180_000);

  test('images, inspect, history, tag, rmi (and 409 while a container uses it)', async () => {
    const imgs = await d.docker(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    expect(imgs.stdout.split('\n')).toEqual(expect.arrayContaining(['busybox:local', 'app:1']));
    const insp = await d.docker(['image', 'inspect', '--format', '{{.Os}}/{{.Architecture}} {{json .Config.Cmd}}', 'app:1']);
    expect(insp.stdout.trim()).toBe('linux/amd64 ["cat","/a.txt"]');
    const hist = await d.docker(['history', '--format', '{{.CreatedBy}}', '--no-trunc', 'app:1']);
    expect(hist.stdout).toMatch(/COPY a\.txt \/a\.txt/);
    expect((await d.docker(['tag', 'app:1', 'app:tagged'])).code).toBe(0);
    expect((await d.docker(['image', 'inspect', '--format', '{{.Id}}', 'app:tagged'])).stdout).toBe((await d.docker(['image', 'inspect', '--format', '{{.Id}}', 'app:1'])).stdout);
    expect((await d.docker(['rmi', 'app:tagged'])).stdout).toBe('Untagged: app:tagged\n');
    const missing = await d.docker(['rmi', 'nope:1']);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe('Error response from daemon: No such image: nope:1');
    await d.docker(['create', '--name', 'holder', 'app:1']);
    const conflict = await d.docker(['rmi', 'app:1']);
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toMatch(/conflict: unable to (remove repository reference|delete)/);
    expect((await d.docker(['rm', 'holder'])).code).toBe(0);
  });

  test('run: -e, -w, -u, --name, exit codes, stderr, -i with stdin', async () => {
    const env = await d.docker(['run', '--rm', '-e', 'FOO=bar', '-w', '/tmp', '-u', '1000:1000', 'busybox:local', 'sh', '-c', 'echo $FOO $(pwd) $(id -u):$(id -g)']);
    expect(env).toMatchObject({ code: 0, stdout: 'bar /tmp 1000:1000\n' });
    const exit = await d.docker(['run', '--name', 'exit3', 'busybox:local', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(exit).toMatchObject({ code: 3, stdout: 'out\n', stderr: 'err\n' });
    const rmExit = await d.docker(['run', '--rm', 'busybox:local', 'sh', '-c', 'exit 2']);
    expect(rmExit.code).toBe(2);
    const cat = await d.docker(['run', '-i', '--rm', 'busybox:local', 'sh', '-c', 'cat; echo done'], { input: 'line1\nline2\n' });
    expect(cat).toMatchObject({ code: 0, stdout: 'line1\nline2\ndone\n' });
    const logs = await d.docker(['logs', 'exit3']);
    expect(logs).toMatchObject({ stdout: 'out\n', stderr: 'err\n' });
    const inspect = await d.docker(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}} {{.Name}}', 'exit3']);
    expect(inspect.stdout.trim()).toBe('exited 3 /exit3');
    expect((await d.docker(['rm', 'exit3'])).code).toBe(0);
  });

  test('run -v: bind mount and named volume; volume ls/inspect/rm', async () => {
    const host = join(tmp.path, 'bind');
    await mkdir(host);
    await writeFile(join(host, 'in.txt'), 'from host\n');
    const bind = await d.docker(['run', '--rm', '-v', `${host}:/data`, 'busybox:local', 'sh', '-c', 'cat /data/in.txt; echo written > /data/out.txt']);
    expect(bind).toMatchObject({ code: 0, stdout: 'from host\n' });
    expect(await readFile(join(host, 'out.txt'), 'utf8')).toBe('written\n');
    expect((await d.docker(['volume', 'create', 'vol1'])).stdout).toBe('vol1\n');
    await d.docker(['run', '--rm', '-v', 'vol1:/v', 'busybox:local', 'sh', '-c', 'echo persisted > /v/f']);
    const read = await d.docker(['run', '--rm', '-v', 'vol1:/v:ro', 'busybox:local', 'cat', '/v/f']);
    expect(read.stdout).toBe('persisted\n');
    expect((await d.docker(['volume', 'ls', '--format', '{{.Name}}'])).stdout.split('\n')).toContain('vol1');
    expect((await d.docker(['volume', 'inspect', '--format', '{{.Driver}}', 'vol1'])).stdout).toBe('local\n');
    expect((await d.docker(['volume', 'rm', 'vol1'])).stdout).toBe('vol1\n');
  }, 60_000);

  test('detached: ps, logs -f/--tail, exec -i, top, diff, cp both ways, pause, restart, stop, kill, rm', async () => {
    const id = (await d.docker(['run', '-d', '--name', 'svc', '-l', 'role=web', 'busybox:local', 'sh', '-c', 'echo started; echo second; sleep 300'])).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const ps = await d.docker(['ps', '--filter', 'label=role=web', '--format', '{{.ID}} {{.Names}} {{.Status}}']);
    expect(ps.stdout).toMatch(new RegExp(`^${id.slice(0, 12)} svc Up `));
    for (let i = 0; i < 50 && !(await d.docker(['logs', 'svc'])).stdout.includes('second'); i++) await new Promise((r) => setTimeout(r, 100));
    expect((await d.docker(['logs', '--tail', '1', 'svc'])).stdout).toBe('second\n');
    const ex = await d.docker(['exec', 'svc', 'sh', '-c', 'echo exec-out; exit 4']);
    expect(ex).toMatchObject({ code: 4, stdout: 'exec-out\n' });
    const exi = await d.docker(['exec', '-i', 'svc', 'sh', '-c', 'cat > /tmp/typed; cat /tmp/typed'], { input: 'typed text\n' });
    expect(exi).toMatchObject({ code: 0, stdout: 'typed text\n' });
    expect((await d.docker(['top', 'svc'])).stdout).toMatch(/sleep 300/);
    expect((await d.docker(['diff', 'svc'])).stdout).toMatch(/^A \/tmp\/typed$/m);
    const out = join(tmp.path, 'typed.out');
    expect((await d.docker(['cp', 'svc:/tmp/typed', out])).code).toBe(0);
    expect(await readFile(out, 'utf8')).toBe('typed text\n');
    await writeFile(join(tmp.path, 'up.txt'), 'uploaded\n');
    expect((await d.docker(['cp', join(tmp.path, 'up.txt'), 'svc:/tmp/'])).code).toBe(0);
    expect((await d.docker(['exec', 'svc', 'cat', '/tmp/up.txt'])).stdout).toBe('uploaded\n');
    expect((await d.docker(['pause', 'svc'])).code).toBe(0);
    expect((await d.docker(['ps', '--format', '{{.Status}}', '--filter', 'name=svc'])).stdout).toMatch(/\(Paused\)/);
    expect((await d.docker(['unpause', 'svc'])).code).toBe(0);
    expect((await d.docker(['restart', '-t', '1', 'svc'])).stdout).toBe('svc\n');
    expect((await d.docker(['inspect', '--format', '{{.State.Running}}', 'svc'])).stdout).toBe('true\n');
    expect((await d.docker(['stop', '-t', '1', 'svc'])).stdout).toBe('svc\n');
    expect((await d.docker(['ps', '-a', '--filter', 'status=exited', '--format', '{{.Names}}'])).stdout.split('\n')).toContain('svc');
    const follow = await d.docker(['logs', '-f', 'svc']);
    expect(follow.stdout).toContain('started\nsecond\n');
    expect((await d.docker(['start', 'svc'])).code).toBe(0);
    expect((await d.docker(['kill', 'svc'])).code).toBe(0);
    // kill returns once the signal is sent; wait reports the exit.
    expect((await d.docker(['wait', 'svc'])).stdout).toBe('137\n');
    expect((await d.docker(['inspect', '--format', '{{.State.ExitCode}}', 'svc'])).stdout).toBe('137\n');
    expect((await d.docker(['rm', 'svc'])).stdout).toBe('svc\n');
    const gone = await d.docker(['inspect', 'svc']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('No such object: svc');
  }, 120_000);

  test.runIf(hasScript)('run -t and exec -t under a pty', async () => {
    const env = { DOCKER_HOST: d.host, DOCKER_CONFIG: join(tmp.path, 'docker-config'), PATH: process.env.PATH ?? '' };
    const out = execFileSync('script', ['-qec', 'docker run --rm -t busybox:local sh -c "tty; echo tty-ok"', '/dev/null'], { env, timeout: 30_000 }).toString();
    expect(out).toMatch(/\/dev\/pts\/\d+/);
    expect(out).toContain('tty-ok');
    await d.docker(['run', '-d', '--name', 'ttyhost', 'busybox:local', 'sleep', '300']);
    const ex = execFileSync('script', ['-qec', 'docker exec -it ttyhost sh -c "tty; echo exec-tty-ok"', '/dev/null'], { env, timeout: 30_000 }).toString();
    expect(ex).toMatch(/\/dev\/pts\/\d+/);
    expect(ex).toContain('exec-tty-ok');
    await d.docker(['rm', '-f', 'ttyhost']);
  }, 60_000);

  test('commit: changes, message, author, whiteouts', async () => {
    await d.docker(['run', '--name', 'tocommit', 'busybox:local', 'sh', '-c', 'echo committed > /c.txt; rm /bin/vi']);
    const c = await d.docker(['commit', '-c', 'CMD ["cat", "/c.txt"]', '-m', 'my message', '-a', 'tester', 'tocommit', 'committed:1']);
    expect(c.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect((await d.docker(['run', '--rm', 'committed:1'])).stdout).toBe('committed\n');
    const vi = await d.docker(['run', '--rm', 'committed:1', 'ls', '/bin/vi']);
    expect(vi.code).not.toBe(0);
    expect((await d.docker(['image', 'inspect', '-f', '{{.Author}} {{.Comment}}', 'committed:1'])).stdout).toBe('tester my message\n');
    // overlay2's GraphDriver data, as dockerd's: the top layer's directory, the ones below it
    const graph = JSON.parse((await d.docker(['image', 'inspect', '-f', '{{json .GraphDriver.Data}}', 'committed:1'])).stdout) as Record<string, string>;
    expect(statSync(graph.UpperDir!).isDirectory()).toBe(true);
    expect(existsSync(join(graph.UpperDir!, 'c.txt'))).toBe(true);
    expect(graph.LowerDir!.split(':').every((dir) => statSync(dir).isDirectory())).toBe(true);
    await d.docker(['rm', 'tocommit']);
  }, 60_000);

  test('save/load, export/import, system df, events', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const tar = join(tmp.path, 'app.tar');
    expect((await d.docker(['save', '-o', tar, 'app:1'])).code).toBe(0);
    expect((await d.docker(['rmi', 'app:1'])).code).toBe(0);
    expect((await d.docker(['load', '-i', tar])).stdout).toBe('Loaded image: app:1\n');
    await d.docker(['create', '--name', 'exp', 'busybox:local']);
    const rootfs = join(tmp.path, 'rootfs.tar');
    expect((await d.docker(['export', '-o', rootfs, 'exp'])).code).toBe(0);
    const imp = await d.docker(['import', '-c', 'CMD ["/bin/echo","imported"]', rootfs, 'imported:1']);
    expect(imp.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect((await d.docker(['run', '--rm', 'imported:1'])).stdout).toBe('imported\n');
    await d.docker(['rm', 'exp']);
    const df = await d.docker(['system', 'df', '--format', '{{.Type}}={{.TotalCount}}']);
    expect(df.stdout).toMatch(/^Images=\d+$/m);
    const until = Math.floor(Date.now() / 1000) + 1;
    const ev = await d.docker(['events', '--since', String(since), '--until', String(until), '--filter', 'type=image', '--format', '{{.Action}}']);
    expect(ev.stdout.split('\n')).toEqual(expect.arrayContaining(['save', 'delete', 'load', 'import']));
  }, 120_000);

  test('hostile: archive PUT cannot write outside the container', async () => {
    await d.docker(['create', '--name', 'jail', 'busybox:local']);
    const outside = join(tmp.path, 'escaped.txt');
    const rel = join('..', '..', '..', '..', '..', '..', '..', outside);
    const tarBody = await tarBuffer([
      { name: rel, content: 'pwned' },
      { name: 'link', type: 'symlink', linkname: tmp.path },
      { name: 'link/escaped2.txt', content: 'pwned' },
    ]);
    const r = await request(d.socket, 'PUT', `/v1.47/containers/jail/archive?path=${encodeURIComponent('/../../../tmp')}`, tarBody, { 'Content-Type': 'application/x-tar' });
    expect(r.status).toBeGreaterThanOrEqual(200);
    expect(existsSync(outside)).toBe(false);
    expect(existsSync(join(tmp.path, 'escaped2.txt'))).toBe(false);
    await d.docker(['rm', 'jail']);
    expect((await request(d.socket, 'GET', '/_ping')).status).toBe(200);
  });

  test('hostile: a context upload cut off mid-stream fails cleanly and leaves no temp files', async () => {
    const before = await listTree(d.root);
    await new Promise<void>((resolve) => {
      const s = connect(d.socket, () => {
        s.write('POST /v1.47/build?t=cutoff HTTP/1.1\r\nHost: d\r\nContent-Type: application/x-tar\r\nContent-Length: 50000000\r\n\r\n');
        const p = pack();
        p.entry({ name: 'Dockerfile' }, 'FROM busybox:local\nCOPY big /big\n');
        p.entry({ name: 'big', size: 40_000_000 }).write(Buffer.alloc(4_000_000, 1));
        p.on('data', (c: unknown) => s.write(c as Buffer));
        setTimeout(() => {
          s.destroy();
          resolve();
        }, 500);
      });
      s.on('error', () => {});
    });
    // The build notices, fails and cleans up; give it a moment. Nothing new may remain but
    // empty directories, the solver's build log records and the failed build's own record.
    const leftovers = async () =>
      (await listTree(d.root)).filter(
        (p) =>
          !before.includes(p) &&
          !p.startsWith(join(d.root, 'logs')) &&
          !p.startsWith(join(d.root, 'builds') + '/') &&
          !statSync(p, { throwIfNoEntry: false })?.isDirectory(),
      );
    for (let i = 0; i < 40 && (await leftovers()).length; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await leftovers()).toEqual([]);
    expect((await d.docker(['image', 'inspect', 'cutoff'])).code).toBe(1);
    // the record says it failed (it is the one thing a failed build keeps)
    const last = (await request(d.socket, 'GET', '/tbuild/builds/last')).json<{ status: string }>();
    expect(last.status).toBe('failed');
    expect((await request(d.socket, 'GET', '/_ping')).status).toBe(200);
  }, 30_000);

  test('hostile: 100 concurrent container lists while a build runs all succeed', async () => {
    const dir = await writeCtx('ctx-slow', { Dockerfile: 'FROM busybox:local\nRUN sleep 1; echo slow-done\n' });
    const build = d.docker(['build', '--no-cache', '-t', 'slow:1', dir], { timeoutMs: 120_000 });
    await new Promise((r) => setTimeout(r, 300));
    const lists = await Promise.all(Array.from({ length: 100 }, () => request(d.socket, 'GET', '/v1.47/containers/json?all=1')));
    expect(lists.map((r) => r.status)).toEqual(Array(100).fill(200));
    const b = await build;
    expect(b.code).toBe(0);
    expect(b.stdout).toContain('slow-done');
  }, 120_000);

  test('SIGTERM stops the daemon cleanly; containers keep running; a new daemon takes over', async () => {
    const id = (await d.docker(['run', '-d', '--name', 'survivor', 'busybox:local', 'sleep', '300'])).stdout.trim();
    expect(await d.stop()).toBe(0);
    expect(existsSync(join(d.root, 'daemon.lock'))).toBe(false);
    expect(existsSync(d.socket)).toBe(false);
    d = await startChildDaemon(tmp.path);
    const ps = await d.docker(['ps', '--format', '{{.ID}} {{.Names}} {{.State}}']);
    expect(ps.stdout).toContain(`${id.slice(0, 12)} survivor running`);
    expect((await d.docker(['exec', 'survivor', 'echo', 'still here'])).stdout).toBe('still here\n');
    expect((await d.docker(['rm', '-f', 'survivor'])).code).toBe(0);
  }, 60_000);
});
