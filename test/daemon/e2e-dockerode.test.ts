import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createReadStream } from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import Docker from 'dockerode';
import { pack } from 'tar-stream';
import { isRoot, mountsUnder, tempDir } from '../support/tmp.js';
import { BUSYBOX_TAR } from '../support/cli.js';
import { startChildDaemon, type ChildDaemon } from './support/child-daemon.js';
import { demuxBuffer } from '../../src/api/wire/multiplex.js';

function tarOf(files: Record<string, string>): Readable {
  const p = pack();
  for (const [name, content] of Object.entries(files)) p.entry({ name }, content);
  p.finalize();
  return p as unknown as Readable;
}

function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/** dockerode (unmodified) against `tbuild daemon` with the real engine. */
describe.runIf(isRoot)('dockerode against tbuild daemon (real engine)', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let d: ChildDaemon;
  let docker: Docker;

  beforeAll(async () => {
    tmp = await tempDir('tbo-');
    d = await startChildDaemon(tmp.path);
    docker = new Docker({ socketPath: d.socket });
    const res = await docker.loadImage(createReadStream(BUSYBOX_TAR));
    expect((await collect(res)).toString()).toContain('Loaded image: busybox:local');
  }, 60_000);

  afterAll(async () => {
    if (d) {
      for (const c of await docker.listContainers({ all: true })) await docker.getContainer(c.Id).remove({ force: true });
      expect(await d.stop()).toBe(0);
    }
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  }, 60_000);

  test('ping, version, info', async () => {
    expect(String(await docker.ping())).toBe('OK');
    expect((await docker.version()).ApiVersion).toBe('1.47');
    const info = await docker.info();
    expect(info.Driver).toBe('overlay2');
    expect(info.Images).toBeGreaterThanOrEqual(1);
  });

  test('buildImage with progress, then images API', async () => {
    const stream = await docker.buildImage(tarOf({ Dockerfile: 'FROM busybox:local\nRUN echo built-by-dockerode\nLABEL k=v\n' }), { t: 'dode:1' });
    const events = await new Promise<Array<{ stream?: string; aux?: { ID: string }; error?: string }>>((resolve, reject) =>
      docker.modem.followProgress(stream, (err: Error | null, res: Array<{ stream?: string }>) => (err ? reject(err) : resolve(res))),
    );
    const text = events.map((e) => e.stream ?? '').join('');
    expect(text).toContain('built-by-dockerode');
    const id = events.find((e) => e.aux)?.aux?.ID;
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    const img = docker.getImage('dode:1');
    const insp = await img.inspect();
    expect(insp.Id).toBe(id);
    expect(insp.Config.Labels).toEqual({ k: 'v' });
    const hist = await img.history();
    expect(hist[0].Id).toBe(id);
    await img.tag({ repo: 'dode', tag: '2' });
    const list = await docker.listImages({ filters: JSON.stringify({ reference: ['dode'] }) });
    expect(list.flatMap((i) => i.RepoTags ?? []).sort()).toEqual(['dode:1', 'dode:2']);
    const removed = await docker.getImage('dode:2').remove();
    expect(removed).toEqual([{ Untagged: 'dode:2' }]);
    const failed = await docker.buildImage(tarOf({ Dockerfile: 'FROM busybox:local\nRUN exit 2\n' }), {});
    const failEvents = await new Promise<Array<{ error?: string; errorDetail?: { code: number } }>>((resolve, reject) =>
      docker.modem.followProgress(failed, (err: Error | null, res: Array<{ error?: string }>) => (err ? reject(err) : resolve(res))),
    );
    expect(failEvents.at(-1)).toEqual({
      error: "The command '/bin/sh -c exit 2' returned a non-zero code: 2",
      errorDetail: { code: 2, message: "The command '/bin/sh -c exit 2' returned a non-zero code: 2" },
    });
  }, 120_000);

  test('create, hijacked attach before start, wait, logs, inspect, remove', async () => {
    const c = await docker.createContainer({ Image: 'busybox:local', Cmd: ['sh', '-c', 'read line; echo got:$line; echo err >&2; exit 6'], OpenStdin: true, StdinOnce: true });
    const stream = await c.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true });
    const out = collect(stream);
    await c.start();
    stream.write('hello\n');
    const { StatusCode } = await c.wait();
    expect(StatusCode).toBe(6);
    const { stdout, stderr } = demuxBuffer(await out);
    expect(stdout).toBe('got:hello\n');
    expect(stderr).toBe('err\n');
    const logs = (await c.logs({ stdout: true, stderr: true })) as unknown as Buffer;
    expect(demuxBuffer(logs)).toEqual({ stdout: 'got:hello\n', stderr: 'err\n' });
    const insp = await c.inspect();
    expect(insp.State.ExitCode).toBe(6);
    await c.remove();
    await expect(c.inspect()).rejects.toMatchObject({ statusCode: 404 });
  }, 60_000);

  test('non-hijacked attach and exec with a running container', async () => {
    const c = await docker.createContainer({ Image: 'busybox:local', Cmd: ['sh', '-c', 'echo up; sleep 300'] });
    const attached = await c.attach({ stream: true, stdout: true, stderr: true });
    const seen = new PassThrough();
    attached.pipe(seen);
    await c.start();
    const first = await new Promise<Buffer>((resolve) => seen.once('data', resolve));
    expect(demuxBuffer(first).stdout).toBe('up\n');
    const ex = await c.exec({ Cmd: ['sh', '-c', 'echo in-exec; exit 3'], AttachStdout: true, AttachStderr: true });
    const s = await ex.start({ hijack: true, stdin: false });
    const buf = await collect(s);
    expect(demuxBuffer(buf).stdout).toBe('in-exec\n');
    const ei = await ex.inspect();
    expect(ei).toMatchObject({ Running: false, ExitCode: 3 });
    const list = await docker.listContainers({ filters: JSON.stringify({ id: [c.id] }) });
    expect(list).toHaveLength(1);
    expect(list[0]!.State).toBe('running');
    await c.stop({ t: 1 });
    expect((await c.inspect()).State.Running).toBe(false);
    await c.remove();
  }, 60_000);

  test('volumes and events', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const v = await docker.createVolume({ Name: 'dodevol', Labels: { a: 'b' } });
    expect(v.name).toBe('dodevol');
    expect((await v.inspect()).Labels).toEqual({ a: 'b' });
    const { Volumes } = await docker.listVolumes();
    expect(Volumes.map((x) => x.Name)).toContain('dodevol');
    await docker.getVolume('dodevol').remove();
    const ev = await docker.getEvents({ since, until: Math.floor(Date.now() / 1000) + 1, filters: { type: ['volume'] } });
    const lines = (await collect(ev)).toString().trim().split('\n').map((l) => JSON.parse(l) as { Action: string; Actor: { ID: string } });
    expect(lines.map((l) => `${l.Action} ${l.Actor.ID}`)).toEqual(['create dodevol', 'destroy dodevol']);
  }, 30_000);

  test('archives: put/get archive with path stat, commit, save', async () => {
    const c = await docker.createContainer({ Image: 'busybox:local', Cmd: ['sleep', '300'] });
    await c.start();
    await c.putArchive(tarOf({ 'hello.txt': 'hi from dockerode\n' }), { path: '/tmp' });
    const head = (await c.infoArchive({ path: '/tmp/hello.txt' })) as unknown as { headers: Record<string, string> };
    const stat = JSON.parse(Buffer.from(head.headers['x-docker-container-path-stat']!, 'base64').toString()) as { name: string; size: number };
    expect(stat).toMatchObject({ name: 'hello.txt', size: 18 });
    const tar = await c.getArchive({ path: '/tmp/hello.txt' });
    const names: string[] = [];
    const { extract } = await import('tar-stream');
    const ex = extract();
    ex.on('entry', (h, st, next) => {
      names.push(h.name);
      st.on('end', next);
      st.resume();
    });
    await new Promise<void>((resolve, reject) => {
      ex.on('finish', () => resolve());
      ex.on('error', reject);
      tar.pipe(ex);
    });
    expect(names).toEqual(['hello.txt']);
    const committed = await c.commit({ repo: 'dode-commit', tag: '1', changes: 'CMD ["cat","/tmp/hello.txt"]' });
    expect(committed.Id).toMatch(/^sha256:/);
    await c.stop({ t: 1 });
    await c.remove();
    const out = await docker.run('dode-commit:1', [], new PassThrough(), { HostConfig: { AutoRemove: true } });
    expect(out[0].StatusCode).toBe(0);
    const saved = await collect(await docker.getImage('dode-commit:1').get());
    expect(saved.length).toBeGreaterThan(1024);
  }, 60_000);

  test('stats (one-shot and a stream), update, resize and exec inspect (its pid) through dockerode', async () => {
    const c = await docker.createContainer({ Image: 'busybox:local', Cmd: ['sleep', '300'], Tty: true, HostConfig: { Memory: 64 * 1024 * 1024 } });
    await c.start();
    const one = (await c.stats({ stream: false })) as unknown as { memory_stats: { limit: number; usage: number }; cpu_stats: { cpu_usage: { total_usage: number } }; precpu_stats: { cpu_usage: { total_usage: number } }; pids_stats: { current: number } };
    expect(one.memory_stats.limit).toBe(64 * 1024 * 1024);
    expect(one.memory_stats.usage).toBeGreaterThan(0);
    expect(one.pids_stats.current).toBe(1);
    expect(one.cpu_stats.cpu_usage.total_usage).toBeGreaterThanOrEqual(one.precpu_stats.cpu_usage.total_usage);
    const stream = (await c.stats({ stream: true })) as unknown as Readable;
    const first = await new Promise<Record<string, unknown>>((resolve) => stream.once('data', (d: Buffer) => resolve(JSON.parse(d.toString().split('\n')[0]!) as Record<string, unknown>)));
    (stream as unknown as { destroy(): void }).destroy();
    expect(first).toHaveProperty('memory_stats');
    await c.update({ Memory: 96 * 1024 * 1024, MemorySwap: 96 * 1024 * 1024 });
    expect((await c.inspect()).HostConfig.Memory).toBe(96 * 1024 * 1024);
    await c.resize({ h: 30, w: 90 });
    // the size reaches the container's terminal (runc follows it asynchronously)
    const ttySize = async () => {
      const e = await c.exec({ Cmd: ['stty', '-F', '/proc/1/fd/0', 'size'], AttachStdout: true, AttachStderr: true });
      return demuxBuffer(await collect(await e.start({ hijack: true }))).stdout;
    };
    let size = '';
    for (let i = 0; i < 20 && size !== '30 90\n'; i++, await new Promise((r) => setTimeout(r, 100))) size = await ttySize();
    expect(size).toBe('30 90\n');
    const exec = await c.exec({ Cmd: ['sh', '-c', 'echo from-exec'], AttachStdout: true });
    const out = await exec.start({ hijack: true });
    expect(demuxBuffer(await collect(out)).stdout).toBe('from-exec\n');
    const info = await exec.inspect();
    expect(info.ExitCode).toBe(0);
    expect(info.Pid).toBeGreaterThan(0);
    await c.remove({ force: true });
  }, 60_000);
});
