import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import { mkdir, writeFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import tar from 'tar-stream';
import { createReadStream } from 'node:fs';
import { tempDir, isRoot, mountsUnder } from '../../support/tmp.js';
import { runCli, BUSYBOX_TAR, type CliResult } from '../../support/cli.js';
import { startDaemon, type TestDaemon } from './daemon.js';

async function tarNames(file: string): Promise<string[]> {
  const names: string[] = [];
  const ex = tar.extract();
  ex.on('entry', (h, s, next) => {
    names.push(h.name);
    s.on('end', next);
    s.resume();
  });
  const done = new Promise<void>((resolve, reject) => {
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  createReadStream(file).pipe(ex);
  await done;
  return names.sort();
}

/** Container ids and "N seconds ago" vary between the two runs; everything else must match. */
function mask(text: string): string {
  return text
    .replace(/\b[0-9a-f]{64}\b/g, '<id64>')
    .replace(/\b[0-9a-f]{12}\b/g, '<id12>')
    .replace(/(Less than a second|\d+ seconds?|About a minute)( ago)?/g, '<ago>')
    .replace(/ +/g, ' ');
}

describe.runIf(isRoot)('tbuild -H: the CLI through a real daemon matches the embedded CLI', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let daemon: TestDaemon;
  let embeddedRoot: string;
  /** Never a real state root: if -H were ignored, this is where the CLI would write. */
  let env: NodeJS.ProcessEnv;

  const remote = (args: string[], input?: string): Promise<CliResult> =>
    runCli(['-H', daemon.host, ...args], { env, ...(input !== undefined ? { input } : {}) });
  const embedded = (args: string[], input?: string): Promise<CliResult> =>
    runCli(args, { root: embeddedRoot, env, ...(input !== undefined ? { input } : {}) });
  const both = async (args: string[]): Promise<[CliResult, CliResult]> => [await embedded(args), await remote(args)];

  beforeAll(async () => {
    tmp = await tempDir('tbcr-');
    embeddedRoot = join(tmp.path, 'embedded');
    env = { TBUILD_ROOT: join(tmp.path, 'stray-root'), TBUILD_HOST: '', TBUILD_DEFAULT_SOCKET: join(tmp.path, 'no-default.sock') };
    daemon = await startDaemon(join(tmp.path));
  }, 60_000);

  afterAll(async () => {
    if (daemon) {
      const left = await remote(['ps', '-a', '-q', '--no-trunc']);
      for (const id of left.stdout.split('\n').filter(Boolean)) await remote(['rm', '-f', id]);
      await daemon.stop();
    }
    const leftLocal = await embedded(['ps', '-a', '-q', '--no-trunc']);
    for (const id of leftLocal.stdout.split('\n').filter(Boolean)) await embedded(['rm', '-f', id]);
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  }, 60_000);

  test('load, images, history, inspect', async () => {
    const [el, rl] = await both(['load', '-i', BUSYBOX_TAR]);
    expect(rl).toEqual({ ...el, stdout: 'Loaded image: busybox:local\n' });
    expect(el.stdout).toBe('Loaded image: busybox:local\n');
    for (const args of [['images'], ['images', '-q'], ['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}'], ['history', 'busybox:local'], ['history', '--no-trunc', '-H', 'false', 'busybox:local']]) {
      const [e, r] = await both(args);
      expect(r, args.join(' ')).toEqual(e);
    }
    const [ei, ri] = await both(['inspect', '-f', '{{.Id}} {{.Os}}/{{.Architecture}} {{json .RootFS}} {{json .Config.Cmd}}', 'busybox:local']);
    expect(ri).toEqual(ei);
  });

  test('run --rm: output, stderr and exit code; ps -a empty after', async () => {
    const args = ['run', '--rm', 'busybox:local', 'sh', '-c', 'echo out; echo err >&2; exit 5'];
    const [e, r] = await both(args);
    expect(e).toMatchObject({ code: 5, stdout: 'out\n', stderr: 'err\n' });
    expect(r).toEqual(e);
    const [ep, rp] = await both(['ps', '-a']);
    expect(rp).toEqual(ep);
    const ei = await embedded(['run', '--rm', '-i', 'busybox:local', 'cat'], 'fed\n');
    const ri = await remote(['run', '--rm', '-i', 'busybox:local', 'cat'], 'fed\n');
    expect(ei).toMatchObject({ code: 0, stdout: 'fed\n' });
    expect(ri).toEqual(ei);
  });

  test('run -d, ps, logs, exec, stop, ps -a, rm', async () => {
    for (const tb of [embedded, remote]) {
      const started = await tb(['run', '-d', '--name', 'svc', 'busybox:local', 'sh', '-c', 'echo ready; exec sleep 60']);
      expect(started.code).toBe(0);
      expect(started.stdout).toMatch(/^[0-9a-f]{64}\n$/);
    }
    const [eps, rps] = await both(['ps']);
    expect(mask(rps.stdout)).toBe(mask(eps.stdout));
    expect(rps.stdout).toContain('svc');
    for (let i = 0; i < 50 && !(await remote(['logs', 'svc'])).stdout; i++) await new Promise((r) => setTimeout(r, 100));
    const [el, rl] = await both(['logs', 'svc']);
    expect(rl).toEqual(el);
    expect(rl.stdout).toBe('ready\n');
    const [ex, rx] = await both(['exec', 'svc', 'sh', '-c', 'echo in; echo e >&2; exit 3']);
    expect(ex).toMatchObject({ code: 3, stdout: 'in\n', stderr: 'e\n' });
    expect(rx).toEqual(ex);
    const [es, rs] = await both(['stop', '-t', '1', 'svc']);
    expect(rs).toEqual(es);
    const [ea, ra] = await both(['ps', '-a']);
    expect(mask(ra.stdout)).toBe(mask(ea.stdout));
    expect(ra.stdout).toMatch(/Exited \(\d+\)/);
    const [er, rr] = await both(['rm', 'svc']);
    expect(rr).toEqual(er);
    const [em, rm] = await both(['rm', 'svc']);
    expect(em).toMatchObject({ code: 1, stderr: 'Error response from daemon: No such container: svc\n' });
    expect(rm).toEqual(em);
  });

  test('build: context with .dockerignore, tag, failure exit code and message', async () => {
    const ctx = join(tmp.path, 'ctx');
    await mkdir(ctx, { recursive: true });
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:local\nCOPY . /c/\nRUN ls -A /c > /list\nCMD ["cat", "/list"]\n');
    await writeFile(join(ctx, '.dockerignore'), 'ignored.txt\n');
    await writeFile(join(ctx, 'kept.txt'), 'k');
    await writeFile(join(ctx, 'ignored.txt'), 'i');
    await writeFile(join(ctx, 'Bad.Dockerfile'), 'FROM busybox:local\nRUN echo failing-now; exit 3\n');
    const [eb, rb] = await both(['build', '-q', '-t', 'built:1', ctx]);
    expect(eb.code).toBe(0);
    expect(rb.code).toBe(0);
    expect(rb.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    const plain = await remote(['build', '--progress', 'plain', '-t', 'built:2', ctx]);
    expect(plain.code).toBe(0);
    expect(plain.stderr).toContain('[3/4] RUN ls -A /c > /list');
    expect(plain.stderr).toContain('naming to docker.io/library/built:2 done');
    const [er, rr] = await both(['run', '--rm', 'built:1']);
    expect(er.code).toBe(0);
    expect(er.stdout).toContain('kept.txt\n');
    expect(er.stdout).not.toContain('ignored.txt');
    expect(rr).toEqual(er);
    const [ef, rf] = await both(['build', '--progress', 'plain', '-f', join(ctx, 'Bad.Dockerfile'), ctx]);
    expect(ef.code).toBe(1);
    expect(rf.code).toBe(1);
    expect(rf.stderr).toContain('failing-now');
    // The daemon's classic wording (or BuildKit's) for the failing command and its exit code.
    expect(rf.stderr).toMatch(/\nERROR: .*\/bin\/sh -c echo failing-now; exit 3.*\b3\n$/);
    expect(rf.stderr).toContain(' > [2/2] RUN echo failing-now; exit 3:\nfailing-now\n');
    // the classic POST /build has no annotations: refused, not dropped
    const annotated = await remote(['build', '--annotation', 'k=v', ctx]);
    expect(annotated.code).toBe(1);
    expect(annotated.stderr).toContain('--annotation is not supported through the daemon');
  }, 180_000);

  test('save, rmi, load round trip; import', async () => {
    for (const [tb, name] of [[embedded, 'e.tar'], [remote, 'r.tar']] as const) {
      const r = await tb(['save', '-o', join(tmp.path, name), 'busybox:local']);
      expect(r).toEqual({ code: 0, stdout: '', stderr: '' });
    }
    expect(await tarNames(join(tmp.path, 'r.tar'))).toEqual(await tarNames(join(tmp.path, 'e.tar')));
    for (const tb of [embedded, remote]) expect((await tb(['tag', 'busybox:local', 'again:1'])).code).toBe(0);
    const [e1, r1] = await both(['rmi', 'again:1']);
    expect(e1).toMatchObject({ code: 0, stdout: 'Untagged: again:1\n' });
    expect(r1).toEqual(e1);
    const [e2, r2] = await both(['rmi', 'nope:missing']);
    expect(e2.code).toBe(1);
    expect(r2).toEqual(e2);
    const rootfs = join(tmp.path, 'rootfs.tar');
    const pack = tar.pack();
    pack.entry({ name: 'hello', size: 3, mode: 0o755 }, 'hi\n');
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack as AsyncIterable<Buffer>) chunks.push(c);
    await writeFile(rootfs, Buffer.concat(chunks));
    const [eim, rim] = await both(['import', '-c', 'CMD ["/hello"]', rootfs, 'imported:1']);
    expect(rim.code).toBe(0);
    expect(rim.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    expect(eim.code).toBe(0);
    const [eh, rh] = await both(['inspect', '-f', '{{json .Config.Cmd}} {{json .RootFS.Layers}}', 'imported:1']);
    expect(rh).toEqual(eh);
    expect(rh.stdout).toMatch(/^\["\/hello"\] \["sha256:[0-9a-f]{64}"\]\n$/);
    const df = await remote(['df']);
    expect(df.code).toBe(0);
    expect(df.stdout).toMatch(/^TYPE +TOTAL +ACTIVE +SIZE +RECLAIMABLE\nImages +3 /);
  });

  test('a dead -H address fails clearly; --root alone never reaches a daemon', async () => {
    const dead = `unix://${join(tmp.path, 'dead.sock')}`;
    const r = await runCli(['-H', dead, 'images'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`ERROR: Cannot connect to the tbuild daemon at ${dead}. Is the daemon running? (ENOENT)\n`);
    const viaEnv = await runCli(['ps'], { env: { ...env, TBUILD_HOST: dead } });
    expect(viaEnv.stderr).toBe(r.stderr);
    // The daemon's socket as the default one: used without -H, ignored with --root.
    const withDefault = { ...env, TBUILD_DEFAULT_SOCKET: daemon.socket };
    expect((await runCli(['images', '-q'], { env: withDefault })).stdout).toBe((await remote(['images', '-q'])).stdout);
    expect((await runCli(['images', '-q'], { env: withDefault, root: join(tmp.path, 'fresh') })).stdout).toBe('');
    // Nothing above opened a local state root behind the daemon's back.
    expect(await stat(join(tmp.path, 'stray-root')).then(() => 'present', () => 'absent')).toBe('absent');
  });
});
