import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startHarness, type Harness } from './support/harness.js';
import { fakeServices, type FakeEngine } from './support/fake-engine.js';
import { testImageConfig } from './support/fake-images.js';
import { hasDocker } from './support/docker.js';

/**
 * The stock Docker CLI against the daemon with doubles behind it: every protocol path the CLI
 * takes (negotiation, JSON-message streams, hijacked attach before start, exec, wait conditions,
 * multiplexed logs, archive stat headers), independent of the real engine.
 */
describe.runIf(hasDocker)('docker CLI against the daemon (engine doubles)', () => {
  let h: Harness;
  let engine: FakeEngine;

  beforeAll(async () => {
    h = await startHarness((root) => {
      const s = fakeServices(root);
      engine = s.engine;
      return s;
    });
    await engine.images.create({ ...testImageConfig(), names: ['busybox:local'] });
  });
  afterAll(async () => {
    await engine.containers.close();
    await h.close();
  });

  test('version negotiates down to our API version', async () => {
    const r = await h.docker(['version', '--format', '{{.Client.APIVersion}} {{.Server.APIVersion}} {{.Server.MinAPIVersion}} {{.Server.Os}}']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('1.47 1.47 1.24 linux');
  });

  test('info', async () => {
    const r = await h.docker(['info', '--format', '{{.Driver}} {{.Images}} {{.DockerRootDir}} {{.OSType}}']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`overlay2 ${engine.images.images.size} ${join(h.dir, 'root')} linux`);
  });

  test('build with tags, build args, -f and target; steps and output stream', async () => {
    const ctx = await h.context({
      'Dockerfile.alt': 'FROM busybox:local AS base\nRUN echo $GREETING\nFROM base AS other\nRUN echo other\n',
    });
    const r = await h.docker(['build', '-t', 'app:1', '-t', 'app2', '--build-arg', 'GREETING=hello', '-f', join(ctx, 'Dockerfile.alt'), '--target', 'base', ctx]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Step 1/2 : FROM busybox:local AS base\n');
    expect(r.stdout).toContain('Step 2/2 : RUN echo hello\n');
    expect(r.stdout).toMatch(/\nhello\n ---> [0-9a-f]{12}\n/);
    expect(r.stdout).not.toContain('echo other');
    const id = /Successfully built ([0-9a-f]{12})/.exec(r.stdout)?.[1];
    expect(id).toBeDefined();
    expect(r.stdout).toContain('Successfully tagged app:1\nSuccessfully tagged app2:latest\n');
    const img = await engine.images.resolve('app:1');
    expect(img.id.slice(7, 19)).toBe(id);
  });

  test('build with a Dockerfile outside the context (the CLI adds it to the tar under another name)', async () => {
    const ctx = await h.context({ 'x.txt': 'x' });
    const outside = await h.context({ 'Outside.df': 'FROM busybox:local\nRUN echo outside\n' });
    const r = await h.docker(['build', '-t', 'outside:1', '-f', join(outside, 'Outside.df'), ctx]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Step 2/2 : RUN echo outside\n');
    expect(await engine.images.get('outside:1')).toBeDefined();
  });

  test('build failure: classic message and the command exit code', async () => {
    const ctx = await h.context({ Dockerfile: 'FROM busybox:local\nRUN exit 3\n' });
    const r = await h.docker(['build', ctx]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("The command '/bin/sh -c exit 3' returned a non-zero code: 3");
  });

  test('build -q and --iidfile print/write the image id', async () => {
    const ctx = await h.context({ Dockerfile: 'FROM busybox:local\nRUN echo quiet\n' });
    const iid = join(h.dir, 'iid');
    const r = await h.docker(['build', '-q', '--iidfile', iid, ctx]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect((await readFile(iid, 'utf8')).trim()).toBe(r.stdout.trim());
    expect(r.stdout).not.toContain('Step');
  });

  test('images, filters, inspect, history, tag, rmi', async () => {
    await engine.images.create({ ...testImageConfig({ labels: { tier: 'web' }, salt: 'web' }), names: ['web:1'] });
    const list = await h.docker(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    expect(list.stdout.split('\n')).toContain('web:1');
    const byRef = await h.docker(['images', '--filter', 'reference=web*', '--format', '{{.Repository}}']);
    expect(byRef.stdout.trim()).toBe('web');
    const byLabel = await h.docker(['images', '--filter', 'label=tier=web', '-q']);
    expect(byLabel.stdout.trim().split('\n')).toHaveLength(1);
    const insp = await h.docker(['image', 'inspect', '--format', '{{.Os}} {{index .RepoTags 0}} {{.Config.Labels.tier}}', 'web:1']);
    expect(insp.stdout.trim()).toBe('linux web:1 web');
    const hist = await h.docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'web:1']);
    expect(hist.stdout.trim().split('\n')).toEqual(['/bin/sh -c #(nop)  CMD ["sh"]', '/bin/sh -c #(nop) ADD file web']);
    expect((await h.docker(['tag', 'web:1', 'web:2'])).code).toBe(0);
    expect((await engine.images.resolve('web:2')).id).toBe((await engine.images.resolve('web:1')).id);
    const rmi = await h.docker(['rmi', 'web:2']);
    expect(rmi.stdout.trim()).toBe('Untagged: web:2');
    const missing = await h.docker(['rmi', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe('Error response from daemon: No such image: nope');
    const inspMissing = await h.docker(['image', 'inspect', 'nope']);
    expect(inspMissing.code).toBe(1);
    expect(inspMissing.stderr).toContain('No such image: nope');
  });

  test('run: output, exit codes, --rm, -i with stdin, stderr', async () => {
    const hi = await h.docker(['run', '--rm', 'busybox:local', 'echo', 'hi', 'there']);
    expect(hi).toMatchObject({ code: 0, stdout: 'hi there\n' });
    const exit = await h.docker(['run', '--name', 'ex3', 'busybox:local', 'sh', '-c', 'exit 3']);
    expect(exit.code).toBe(3);
    const cat = await h.docker(['run', '-i', '--rm', 'busybox:local', 'cat'], { input: 'piped\ninput\n' });
    expect(cat).toMatchObject({ code: 0, stdout: 'piped\ninput\n' });
    const err = await h.docker(['run', '--rm', 'busybox:local', 'err', 'oops']);
    expect(err).toMatchObject({ code: 1, stdout: '' });
    expect(err.stderr).toBe('oops\n');
    // --rm removed them; the named one stays
    const names = [...engine.containers.records.values()].map((c) => c.name);
    expect(names).toContain('ex3');
    expect(names.length).toBe(1);
    const missing = await h.docker(['run', 'nope:1']);
    expect(missing.code).toBe(125);
    expect(missing.stderr).toContain('Unable to find image');
    // Hijacked attach connections are accounted for once they close (a graceful stop waits on them).
    for (let i = 0; i < 50 && h.daemon.app.inFlight() > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(h.daemon.app.inFlight()).toBe(0);
  });

  test('detached container: ps, filters, logs, exec, top, pause, stop, kill, restart, rm', async () => {
    const d = await h.docker(['run', '-d', '--name', 'svc', '-l', 'role=db', 'busybox:local', 'sleep', '30']);
    expect(d.code).toBe(0);
    expect(d.stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
    const ps = await h.docker(['ps', '--format', '{{.Names}}|{{.Status}}|{{.Command}}']);
    expect(ps.stdout).toMatch(/^svc\|Up (Less than a second|\d+ seconds?)\|"sleep 30"$/m);
    const psLabel = await h.docker(['ps', '-a', '--filter', 'label=role=db', '--format', '{{.Names}}']);
    expect(psLabel.stdout.trim()).toBe('svc');
    const psExited = await h.docker(['ps', '-a', '--filter', 'status=exited', '--format', '{{.Names}}']);
    expect(psExited.stdout.trim().split('\n')).toContain('ex3');
    expect(psExited.stdout).not.toContain('svc');

    const ex = await h.docker(['exec', 'svc', 'echo', 'from', 'exec']);
    expect(ex).toMatchObject({ code: 0, stdout: 'from exec\n' });
    const exi = await h.docker(['exec', '-i', 'svc', 'cat'], { input: 'exec stdin\n' });
    expect(exi).toMatchObject({ code: 0, stdout: 'exec stdin\n' });
    const exc = await h.docker(['exec', 'svc', 'sh', '-c', 'exit 5']);
    expect(exc.code).toBe(5);
    const top = await h.docker(['top', 'svc']);
    expect(top.stdout).toMatch(/PID[\s\S]*sleep 30/);

    expect((await h.docker(['pause', 'svc'])).code).toBe(0);
    expect((await h.docker(['inspect', '--format', '{{.State.Status}} {{.State.Paused}}', 'svc'])).stdout.trim()).toBe('paused true');
    expect((await h.docker(['unpause', 'svc'])).code).toBe(0);
    expect((await h.docker(['restart', 'svc'])).stdout.trim()).toBe('svc');
    expect((await h.docker(['stop', 'svc'])).stdout.trim()).toBe('svc');
    expect((await h.docker(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', 'svc'])).stdout.trim()).toBe('exited 143');
    expect((await h.docker(['start', 'svc'])).code).toBe(0);
    expect((await h.docker(['kill', 'svc'])).code).toBe(0);
    expect((await h.docker(['inspect', '--format', '{{.State.ExitCode}}', 'svc'])).stdout.trim()).toBe('137');
    const notRunning = await h.docker(['kill', 'svc']);
    expect(notRunning.code).toBe(1);
    expect(notRunning.stderr).toContain('is not running');
    expect((await h.docker(['rm', 'svc'])).stdout.trim()).toBe('svc');
    const gone = await h.docker(['rm', 'svc']);
    expect(gone.stderr.trim()).toBe('Error response from daemon: No such container: svc');
  });

  test('logs with --tail, -f and timestamps', async () => {
    await h.docker(['run', '--name', 'logger', 'busybox:local', 'echo', 'line']);
    expect((await h.docker(['logs', 'logger'])).stdout).toBe('line\n');
    expect((await h.docker(['logs', '--tail', '0', 'logger'])).stdout).toBe('');
    expect((await h.docker(['logs', '-f', 'logger'])).stdout).toBe('line\n');
    expect((await h.docker(['logs', '-t', 'logger'])).stdout).toMatch(/^\d{4}-\d\d-\d\dT\S+ line\n$/);
    const err = await h.docker(['run', '--name', 'errlogger', 'busybox:local', 'err', 'bad']);
    expect(err.code).toBe(1);
    const logs = await h.docker(['logs', 'errlogger']);
    expect(logs).toMatchObject({ stdout: '', stderr: 'bad\n' });
  });

  test('diff, cp both ways, rename, container prune', async () => {
    await h.docker(['run', '--name', 'files', 'busybox:local', 'echo']);
    expect((await h.docker(['diff', 'files'])).stdout).toBe('C /tmp\nA /tmp/x\n');
    const out = await h.docker(['cp', 'files:/etc/hostname', join(h.dir, 'hostname.out')]);
    expect(out.code).toBe(0);
    const ctx = await h.context({ 'payload.txt': 'x'.repeat(5000) });
    const into = await h.docker(['cp', join(ctx, 'payload.txt'), 'files:/tmp/']);
    expect(into.code).toBe(0);
    expect(engine.containers.putArchives.at(-1)).toMatchObject({ path: '/tmp/' });
    expect((await h.docker(['rename', 'files', 'files2'])).code).toBe(0);
    expect((await h.docker(['ps', '-a', '--filter', 'name=files2', '--format', '{{.Names}}'])).stdout.trim()).toBe('files2');
    const prune = await h.docker(['container', 'prune', '-f']);
    expect(prune.stdout).toContain('Deleted Containers:');
    expect(engine.containers.records.size).toBe(0);
  });

  test('volumes: create, ls, inspect, rm', async () => {
    expect((await h.docker(['volume', 'create', '--label', 'k=v', 'data1'])).stdout.trim()).toBe('data1');
    expect((await h.docker(['volume', 'ls', '--format', '{{.Name}}'])).stdout.trim()).toBe('data1');
    expect((await h.docker(['volume', 'inspect', '--format', '{{.Driver}} {{.Labels.k}}', 'data1'])).stdout.trim()).toBe('local v');
    expect((await h.docker(['volume', 'rm', 'data1'])).stdout.trim()).toBe('data1');
    const missing = await h.docker(['volume', 'inspect', 'data1']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no such volume');
  });

  test('save and load', async () => {
    const tar = join(h.dir, 'img.tar');
    expect((await h.docker(['save', '-o', tar, 'busybox:local'])).code).toBe(0);
    const load = await h.docker(['load', '-i', tar]);
    expect(load).toMatchObject({ code: 0, stdout: 'Loaded image: busybox:local\n' });
  });

  test('events since/until with filters', async () => {
    const start = Math.floor(Date.now() / 1000) - 1;
    await h.docker(['run', '--rm', '--name', 'evt', 'busybox:local', 'echo']);
    const until = Math.floor(Date.now() / 1000) + 1;
    const ev = await h.docker(['events', '--since', String(start), '--until', String(until), '--filter', 'container=evt', '--format', '{{.Type}} {{.Action}}']);
    expect(ev.code).toBe(0);
    expect(ev.stdout.trim().split('\n')).toEqual(['container create', 'container start', 'container die', 'container destroy']);
    // scope and the object filters are applied, not ignored: swarm's objects have no events here
    const events = async (filter: string) =>
      (await h.docker(['events', '--since', String(start), '--until', String(until), '--filter', 'container=evt', '--filter', filter, '--format', '{{.Action}}'])).stdout.trim();
    expect(await events('scope=local')).toBe('create\nstart\ndie\ndestroy');
    expect(await events('scope=swarm')).toBe('');
    expect(await events('service=evt')).toBe('');
    expect(await events('network=nonesuch')).toBe('');
  });

  test('network ls and system prune', async () => {
    const nets = await h.docker(['network', 'ls', '--format', '{{.Name}} {{.Driver}}']);
    expect(nets.stdout.trim().split('\n')).toEqual(['host host', 'none null']);
    await h.docker(['create', '--name', 'prunable', 'busybox:local']);
    const prune = await h.docker(['system', 'prune', '-f']);
    expect(prune.code).toBe(0);
    expect(prune.stdout).toContain('Deleted Containers:');
    expect([...engine.containers.records.values()].some((c) => c.name === 'prunable')).toBe(false);
  });

  test('system df', async () => {
    const r = await h.docker(['system', 'df', '--format', '{{.Type}} {{.TotalCount}}']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Images ${engine.images.images.size}`);
  });
});
