import { describe, test, expect, beforeEach, afterEach } from 'vitest';
import { Writable, PassThrough } from 'node:stream';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, isRoot, mountsUnder } from '../support/tmp.js';
import { runcContainers, cgroupsLeft } from '../exec/support/rootfs.js';
import { openParts, loadBusybox, processesMentioning, openManager } from './support/engine.js';
import type { LocalContainerManager } from '../../src/containers/manager.js';
import type { EngineParts } from '../../src/engine.js';
import type { ContainerEvent, LogEntry } from '../../src/containers/types.js';
import { isTbuildError } from '../../src/errors.js';

function sink(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(c, _e, cb) {
      chunks.push(Buffer.from(c));
      cb();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString() };
}

async function collect(it: AsyncIterable<LogEntry>): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  for await (const e of it) out.push(e);
  return out;
}

describe.runIf(isRoot)('container manager', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let parts: EngineParts;
  let mgr: LocalContainerManager;
  let ids: string[];

  beforeEach(async () => {
    tmp = await tempDir('tbc-');
    parts = await openParts(tmp.path);
    await loadBusybox(parts);
    mgr = await openManager(parts);
    ids = [];
  });

  afterEach(async () => {
    for (const c of await mgr.list({ all: true })) await mgr.remove(c.id, { force: true, volumes: true });
    await mgr.close();
    expect(await runcContainers(join(tmp.path, 'runc'))).toEqual([]);
    for (const id of ids) expect(await cgroupsLeft(id)).toEqual([]);
    expect(await mountsUnder(tmp.path)).toEqual([]);
    // shims exit on their own once their container is gone
    for (let i = 0; i < 50 && (await processesMentioning(tmp.path)).length; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await processesMentioning(tmp.path)).toEqual([]);
    await tmp.cleanup();
  });

  async function create(cmd: string[], extra: Parameters<LocalContainerManager['create']>[0] | object = {}) {
    const rec = await mgr.create({ image: 'busybox:local', cmd, ...extra });
    ids.push(rec.id);
    return rec;
  }

  test('run attached, then ps -a, logs, rm', async () => {
    const events: ContainerEvent[] = [];
    mgr.on('event', (e) => events.push(e));
    const rec = await create(['sh', '-c', 'echo out; echo err >&2; exit 3'], { name: 'first' });
    expect(rec.state.status).toBe('created');
    expect(rec.path).toBe('sh');
    const out = sink();
    const err = sink();
    await mgr.start('first', { stdout: out.stream, stderr: err.stream });
    expect(await mgr.wait('first')).toEqual({ exitCode: 3 });
    expect(out.text()).toBe('out\n');
    expect(err.text()).toBe('err\n');
    expect((await mgr.list()).map((c) => c.id)).not.toContain(rec.id);
    const all = await mgr.list({ all: true });
    expect(all.find((c) => c.id === rec.id)?.state).toMatchObject({ status: 'exited', exitCode: 3 });
    const logs = await collect(mgr.logs(rec.id.slice(0, 12), {}));
    // two pipes: their relative order is not defined
    expect(logs.map((l) => [l.stream, l.log]).sort()).toEqual([
      ['stderr', 'err\n'],
      ['stdout', 'out\n'],
    ]);
    expect((await collect(mgr.logs(rec.id, { stderr: false }))).map((l) => l.log)).toEqual(['out\n']);
    expect(logs[0]!.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    await mgr.remove('first');
    expect(await mgr.get(rec.id)).toBeUndefined();
    expect(await parts.snapshots.exists(rec.snapshotKey)).toBe(false);
    expect(events.map((e) => e.action)).toEqual(expect.arrayContaining(['create', 'start', 'die', 'destroy']));
    const e = await mgr.inspect('first').catch((x: unknown) => x);
    expect(isTbuildError(e, 'TB_CONTAINER_NOT_FOUND')).toBe(true);
    expect((e as Error).message).toBe('No such container: first');
  });

  test('stdin is forwarded to an attached container with open stdin', async () => {
    await create(['sh', '-c', 'read line; echo "got $line"'], { name: 'reader', openStdin: true, stdinOnce: true });
    const out = sink();
    const stdin = new PassThrough();
    await mgr.start('reader', { stdin, stdout: out.stream });
    stdin.end('hello\n');
    expect(await mgr.wait('reader')).toEqual({ exitCode: 0 });
    expect(out.text()).toBe('got hello\n');
  });

  test('detached: logs follow, exec, top, pause/unpause, stop with SIGTERM, wait', async () => {
    const rec = await create(['sh', '-c', 'trap "echo bye; exit 0" TERM; echo started; while :; do sleep 0.1; done'], { name: 'svc' });
    await mgr.start('svc');
    expect((await mgr.inspect('svc')).state.status).toBe('running');
    expect((await mgr.inspect('svc')).state.pid).toBeGreaterThan(0);
    // follow until the first line shows up
    const ac = new AbortController();
    for await (const l of mgr.logs('svc', { follow: true })) {
      expect(l.log).toBe('started\n');
      break;
    }
    ac.abort();
    const out = sink();
    expect(await mgr.exec('svc', { cmd: ['sh', '-c', 'echo $HOSTNAME; exit 5'] }, { stdout: out.stream })).toEqual({ exitCode: 5 });
    expect(out.text()).toBe(rec.id.slice(0, 12) + '\n');
    const top = await mgr.top('svc');
    expect(top.titles).toContain('PID');
    expect(top.processes.some((p) => p.at(-1)!.startsWith('sh -c trap'))).toBe(true);
    await mgr.pause('svc');
    expect((await mgr.inspect('svc')).state.status).toBe('paused');
    await mgr.unpause('svc');
    expect((await mgr.inspect('svc')).state.status).toBe('running');
    await mgr.stop('svc', 5);
    expect(await mgr.wait('svc')).toEqual({ exitCode: 0 });
    const logs = await collect(mgr.logs('svc', { tail: 1 }));
    expect(logs.map((l) => l.log)).toEqual(['bye\n']);
  });

  test('stop escalates to SIGKILL after the timeout; kill; restart', async () => {
    await create(['sleep', '100'], { name: 'stubborn' });
    await mgr.start('stubborn');
    const t0 = Date.now();
    await mgr.stop('stubborn', 1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect((await mgr.inspect('stubborn')).state).toMatchObject({ status: 'exited', exitCode: 137 });
    await mgr.restart('stubborn', 1);
    // a manual restart is not a policy restart: Docker's RestartCount stays
    expect((await mgr.inspect('stubborn')).state).toMatchObject({ status: 'running', restartCount: 0 });
    await mgr.kill('stubborn', 'KILL');
    expect(await mgr.wait('stubborn')).toEqual({ exitCode: 137 });
    const e = await mgr.kill('stubborn').catch((x: unknown) => x);
    expect(isTbuildError(e, 'TB_CONTAINER_STATE')).toBe(true);
  });

  test('a restarted manager sees a running container and a finished one with its exit code', async () => {
    const run = await create(['sleep', '100'], { name: 'long' });
    const done = await create(['sh', '-c', 'exit 7'], { name: 'short' });
    await mgr.start('long');
    await mgr.start('short');
    expect(await mgr.wait('short')).toEqual({ exitCode: 7 });
    await mgr.close();

    const again = await openManager(await openParts(tmp.path));
    expect((await again.inspect(run.id)).state.status).toBe('running');
    expect((await again.inspect(done.id)).state).toMatchObject({ status: 'exited', exitCode: 7 });
    expect((await again.list()).map((c) => c.name)).toEqual(['long']);
    await again.stop('long', 0);
    expect((await again.inspect('long')).state).toMatchObject({ status: 'exited', exitCode: 137 });
    await again.close();
  });

  test('names: conflict, rename; changes of the container layer', async () => {
    await create(['sh', '-c', 'echo x > /new.txt; rm /bin/ls; echo y >> /etc/passwd'], { name: 'one' });
    const e = await create(['true'], { name: 'one' }).catch((x: unknown) => x);
    expect(isTbuildError(e, 'TB_CONTAINER_NAME_IN_USE')).toBe(true);
    await mgr.rename('one', 'two');
    await mgr.start('two', { stdout: sink().stream });
    expect(await mgr.wait('two')).toEqual({ exitCode: 0 });
    const changes = await mgr.changes('two');
    expect(changes).toEqual(
      expect.arrayContaining([
        { Path: '/new.txt', Kind: 1 },
        { Path: '/bin/ls', Kind: 2 },
        { Path: '/etc/passwd', Kind: 0 },
        { Path: '/etc', Kind: 0 },
      ]),
    );
    expect(changes.some((c) => c.Path === '/etc/hosts')).toBe(false);
  });

  test('--rm removes the container once it exits; named volumes outlive it', async () => {
    const rec = await create(['sh', '-c', 'echo data > /v/f; exit 3'], {
      autoRemove: true,
      mounts: [{ type: 'volume', source: 'vol1', target: '/v', readonly: false }],
    });
    // another manager on the same root sees the exit only through the records
    const other = await openManager(parts);
    const elsewhere = other.wait(rec.id, 'removed');
    const waited = mgr.wait(rec.id, 'removed');
    await mgr.start(rec.id, { stdout: sink().stream });
    expect(await waited).toEqual({ exitCode: 3 });
    expect(await elsewhere).toEqual({ exitCode: 3 });
    await other.close();
    expect(existsSync(join(tmp.path, 'containers', rec.id))).toBe(false);
    const v = await mgr.volumes.inspect('vol1');
    expect(existsSync(join(v.mountpoint, 'f'))).toBe(true);
    await mgr.volumes.remove('vol1');
  });

  test('an empty named volume is filled from the image at its mount point', async () => {
    const rec = await create(['cat', '/etc/passwd'], { mounts: [{ type: 'volume', source: 'etcvol', target: '/etc', readonly: false }] });
    const out = sink();
    await mgr.start(rec.id, { stdout: out.stream });
    expect(await mgr.wait(rec.id)).toEqual({ exitCode: 0 });
    expect(out.text()).toMatch(/^root:x:0:0:root:\/root:\/bin\/sh\n/);
    const v = await mgr.volumes.inspect('etcvol');
    expect(existsSync(join(v.mountpoint, 'group'))).toBe(true);
    const e = await mgr.volumes.remove('etcvol').catch((x: unknown) => x);
    expect(isTbuildError(e, 'TB_VOLUME_IN_USE')).toBe(true);
    await mgr.remove(rec.id);
    await mgr.volumes.remove('etcvol');
  });

  test('restart policies: on-failure retries up to its maximum; always restarts until stopped', async () => {
    await create(['sh', '-c', 'echo run; exit 3'], { name: 'flaky', restartPolicy: { name: 'on-failure', maximumRetryCount: 2 } });
    await mgr.start('flaky');
    for (let i = 0; i < 100 && (await mgr.inspect('flaky')).state.status !== 'exited'; i++) await new Promise((r) => setTimeout(r, 100));
    expect((await mgr.inspect('flaky')).state).toMatchObject({ status: 'exited', exitCode: 3, restartCount: 2 });
    expect((await collect(mgr.logs('flaky', {}))).map((l) => l.log)).toEqual(['run\n', 'run\n', 'run\n']);

    await create(['sh', '-c', 'echo tick; sleep 0.2'], { name: 'looper', restartPolicy: { name: 'always' } });
    await mgr.start('looper');
    for (let i = 0; i < 100 && (await mgr.inspect('looper')).state.restartCount < 2; i++) await new Promise((r) => setTimeout(r, 100));
    await mgr.stop('looper', 1);
    const st = (await mgr.inspect('looper')).state;
    expect(st.status).toBe('exited');
    expect(st.restartCount).toBeGreaterThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 500));
    expect((await mgr.inspect('looper')).state).toMatchObject({ status: 'exited', restartCount: st.restartCount });
  });

  test('exec honours user, workdir and env; prune removes only stopped containers', async () => {
    const live = await create(['sleep', '100'], { name: 'live', env: ['FROM_IMAGE_RUN=1'] });
    const dead = await create(['true'], { name: 'dead' });
    await mgr.start('live');
    await mgr.start('dead');
    await mgr.wait('dead');
    const out = sink();
    const r = await mgr.exec('live', { cmd: ['sh', '-c', 'id -u; pwd; echo $FROM_IMAGE_RUN $EXTRA'], user: '42', workingDir: '/tmp', env: ['EXTRA=x'] }, { stdout: out.stream });
    expect(r).toEqual({ exitCode: 0 });
    expect(out.text()).toBe('42\n/tmp\n1 x\n');
    const pruned = await mgr.prune();
    expect(pruned.deleted).toEqual([dead.id]);
    expect((await mgr.list({ all: true })).map((c) => c.id)).toEqual([live.id]);
    const e = await mgr.remove('live').catch((x: unknown) => x);
    expect(isTbuildError(e, 'TB_CONTAINER_STATE')).toBe(true);
    await mgr.remove('live', { force: true });
  });
  test('keepWarm: a standby shim takes the next start, another replaces it, and close ends it', async () => {
    const standbys = async () => {
      const out: number[] = [];
      for (const pid of await processesMentioning(tmp.path)) {
        const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
        if (cmd.split('\0').includes('--standby')) out.push(pid);
      }
      return out;
    };
    mgr.keepWarm();
    let before: number[] = [];
    for (let i = 0; i < 100 && (before = await standbys()).length !== 1; i++) await new Promise((r) => setTimeout(r, 50));
    expect(before).toHaveLength(1);
    const rec = await create(['sh', '-c', 'echo warm; exit 4']);
    const out = sink();
    await mgr.start(rec.id, { stdout: out.stream });
    expect(await mgr.wait(rec.id)).toEqual({ exitCode: 4 });
    expect(out.text()).toBe('warm\n');
    const state = JSON.parse(await readFile(join(tmp.path, 'containers', rec.id, 'state.json'), 'utf8')) as { shimPid: number };
    expect(state.shimPid).toBe(before[0]);
    let after: number[] = [];
    for (let i = 0; i < 100 && (after = await standbys()).length !== 1; i++) await new Promise((r) => setTimeout(r, 50));
    expect(after).toHaveLength(1);
    expect(after[0]).not.toBe(before[0]);
    await mgr.close();
    for (let i = 0; i < 100 && (await standbys()).length; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await standbys()).toEqual([]);
  });
});
