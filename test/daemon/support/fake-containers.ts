import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { PassThrough, Readable, type Writable } from 'node:stream';
import { TbuildError } from '../../../src/errors.js';
import type {
  AttachStreams,
  ContainerEvent,
  ContainerManager,
  ContainerRecord,
  CreateContainerOptions,
  ExecOptions,
  LogEntry,
  LogOptions,
  WaitCondition,
} from '../../../src/containers/types.js';
import type { FakeImageStore } from './fake-images.js';

interface Live {
  stdout: PassThrough;
  stderr: PassThrough;
  kill(signal: string): void;
  exited: Promise<number>;
}

/**
 * A ContainerManager double whose "processes" are a tiny interpreter: `echo …`, `err …` (stderr),
 * `cat` (stdin to stdout), `sleep N`, `sh -c 'exit N'`. Enough to drive every daemon stream path
 * (attach before start, wait conditions, logs, exec) without runc.
 */
export class FakeContainerManager extends EventEmitter implements ContainerManager {
  records = new Map<string, ContainerRecord>();
  logs_ = new Map<string, LogEntry[]>();
  live = new Map<string, Live>();
  #images: FakeImageStore;
  #exitWaiters = new Map<string, Array<(code: number) => void>>();
  #removeWaiters = new Map<string, Array<() => void>>();

  constructor(images: FakeImageStore) {
    super();
    this.#images = images;
  }

  #emitEvent(action: ContainerEvent['action'], c: ContainerRecord, extra: Record<string, string> = {}) {
    this.emit('event', { action, id: c.id, attributes: { image: c.image, name: c.name, ...extra } } satisfies ContainerEvent);
  }

  async create(opts: CreateContainerOptions): Promise<ContainerRecord> {
    const img = await this.#images.resolve(opts.image);
    const name = opts.name ?? `fake_${randomBytes(3).toString('hex')}`;
    if ([...this.records.values()].some((c) => c.name === name)) {
      throw new TbuildError('TB_CONTAINER_NAME_IN_USE', `Conflict. The container name "/${name}" is already in use`);
    }
    const argv = [...(opts.entrypoint ?? img.config.config.Entrypoint ?? []), ...(opts.cmd ?? img.config.config.Cmd ?? [])];
    const rec: ContainerRecord = {
      id: randomBytes(32).toString('hex'),
      name,
      image: opts.image,
      imageId: img.id,
      created: new Date().toISOString(),
      options: opts,
      path: argv[0] ?? '',
      args: argv.slice(1),
      env: [...(img.config.config.Env ?? []), ...(opts.env ?? [])],
      workingDir: opts.workingDir ?? '/',
      user: opts.user ?? '',
      state: { status: 'created', pid: 0, exitCode: 0, oomKilled: false, error: '', startedAt: '', finishedAt: '', restartCount: 0 },
      snapshotKey: 'x',
      logPath: '/dev/null',
    };
    this.records.set(rec.id, rec);
    this.logs_.set(rec.id, []);
    this.#emitEvent('create', rec);
    return rec;
  }

  async get(idOrName: string): Promise<ContainerRecord | undefined> {
    const r = this.records.get(idOrName);
    if (r) return r;
    const all = [...this.records.values()];
    return all.find((c) => c.name === idOrName.replace(/^\//, '')) ?? all.find((c) => idOrName.length >= 3 && c.id.startsWith(idOrName));
  }

  async inspect(idOrName: string): Promise<ContainerRecord> {
    const c = await this.get(idOrName);
    if (!c) throw new TbuildError('TB_CONTAINER_NOT_FOUND', `No such container: ${idOrName}`);
    return c;
  }

  async list(opts: { all?: boolean } = {}): Promise<ContainerRecord[]> {
    return [...this.records.values()].filter((c) => opts.all || c.state.status === 'running' || c.state.status === 'paused');
  }

  async start(idOrName: string, io?: AttachStreams): Promise<void> {
    const c = await this.inspect(idOrName);
    if (c.state.status === 'running') throw new TbuildError('TB_CONTAINER_STATE', `container ${c.id} is already running`);
    const live = this.#run(c, [c.path, ...c.args], io?.stdin, c.options.openStdin ? undefined : 'no-stdin');
    const log = this.logs_.get(c.id)!;
    const record = (stream: 'stdout' | 'stderr') => (d: Buffer) => {
      log.push({ stream, time: new Date().toISOString(), log: d.toString() });
      this.emit(`log:${c.id}`);
    };
    live.stdout.on('data', record('stdout'));
    live.stderr.on('data', record('stderr'));
    if (io?.stdout) live.stdout.pipe(io.stdout);
    if (io?.stderr) live.stderr.pipe(io.stderr);
    this.live.set(c.id, live);
    c.state = { ...c.state, status: 'running', pid: 4242, startedAt: new Date().toISOString(), finishedAt: '' };
    this.#emitEvent('start', c);
    void live.exited.then(async (code) => {
      await new Promise((r) => setImmediate(r));
      this.live.delete(c.id);
      c.state = { ...c.state, status: 'exited', pid: 0, exitCode: code, finishedAt: new Date().toISOString() };
      this.#emitEvent('die', c, { exitCode: String(code) });
      this.emit(`log:${c.id}`);
      for (const w of this.#exitWaiters.get(c.id)?.splice(0) ?? []) w(code);
      if (c.options.autoRemove) await this.remove(c.id, { force: true });
    });
  }

  #run(c: Pick<ContainerRecord, 'workingDir'>, argv: string[], stdin: NodeJS.ReadableStream | undefined, mode?: 'no-stdin'): Live {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let finish!: (code: number) => void;
    const exited = new Promise<number>((r) => (finish = r));
    let timer: NodeJS.Timeout | undefined;
    const done = (code: number) => {
      if (timer) clearTimeout(timer);
      stdout.end();
      stderr.end();
      finish(code);
    };
    const [cmd, ...args] = argv;
    setImmediate(() => {
      if (cmd === 'echo') {
        stdout.write(`${args.join(' ')}\n`);
        done(0);
      } else if (cmd === 'err') {
        stderr.write(`${args.join(' ')}\n`);
        done(1);
      } else if (cmd === 'pwd') {
        stdout.write(`${c.workingDir}\n`);
        done(0);
      } else if (cmd === 'cat') {
        if (!stdin || mode === 'no-stdin') return done(0);
        stdin.on('data', (d: Buffer) => stdout.write(d));
        stdin.once('end', () => done(0));
      } else if (cmd === 'sleep') {
        timer = setTimeout(() => done(0), Number(args[0] ?? 1) * 1000);
      } else if (cmd === 'sh' && args[0] === '-c' && /^exit \d+$/.test(args[1] ?? '')) {
        done(Number(args[1]!.split(' ')[1]));
      } else {
        stderr.write(`exec: "${cmd}": executable file not found in $PATH\n`);
        done(127);
      }
    });
    return {
      stdout,
      stderr,
      exited,
      kill: (signal) => done(signal === 'SIGKILL' || signal === 'KILL' ? 137 : 143),
    };
  }

  async attach(idOrName: string, io: AttachStreams): Promise<void> {
    const c = await this.inspect(idOrName);
    const live = this.live.get(c.id);
    if (!live) throw new TbuildError('TB_CONTAINER_STATE', `You cannot attach to a stopped container, start it first`);
    if (io.stdout) live.stdout.pipe(io.stdout, { end: false });
    if (io.stderr) live.stderr.pipe(io.stderr, { end: false });
    await live.exited;
  }

  async wait(idOrName: string, condition: WaitCondition = 'not-running'): Promise<{ exitCode: number }> {
    const c = await this.inspect(idOrName);
    if (condition === 'removed') {
      const code = await new Promise<number>((resolve) => {
        const list = this.#removeWaiters.get(c.id) ?? [];
        list.push(() => resolve(c.state.exitCode));
        this.#removeWaiters.set(c.id, list);
      });
      return { exitCode: code };
    }
    if (condition === 'not-running' && c.state.status !== 'running' && c.state.status !== 'paused') return { exitCode: c.state.exitCode };
    const code = await new Promise<number>((resolve) => {
      const list = this.#exitWaiters.get(c.id) ?? [];
      list.push(resolve);
      this.#exitWaiters.set(c.id, list);
    });
    return { exitCode: code };
  }

  async stop(idOrName: string): Promise<void> {
    const c = await this.inspect(idOrName);
    const live = this.live.get(c.id);
    if (!live) return;
    live.kill('SIGTERM');
    await live.exited;
    await new Promise((r) => setImmediate(r));
    this.#emitEvent('stop', c);
  }

  async kill(idOrName: string, signal = 'SIGKILL'): Promise<void> {
    const c = await this.inspect(idOrName);
    const live = this.live.get(c.id);
    if (!live) throw new TbuildError('TB_CONTAINER_STATE', `Cannot kill container: ${idOrName}: Container ${c.id} is not running`);
    this.#emitEvent('kill', c, { signal });
    live.kill(signal);
    await live.exited;
  }

  async restart(idOrName: string): Promise<void> {
    await this.stop(idOrName);
    await new Promise((r) => setImmediate(r));
    await this.start(idOrName);
  }

  async pause(idOrName: string): Promise<void> {
    const c = await this.inspect(idOrName);
    if (c.state.status !== 'running') throw new TbuildError('TB_CONTAINER_STATE', `Container ${c.id} is not running`);
    c.state.status = 'paused';
    this.#emitEvent('pause', c);
  }

  async unpause(idOrName: string): Promise<void> {
    const c = await this.inspect(idOrName);
    if (c.state.status !== 'paused') throw new TbuildError('TB_CONTAINER_STATE', `Container ${c.id} is not paused`);
    c.state.status = 'running';
    this.#emitEvent('unpause', c);
  }

  async remove(idOrName: string, opts: { force?: boolean } = {}): Promise<void> {
    const c = await this.inspect(idOrName);
    if (this.live.has(c.id)) {
      if (!opts.force) {
        throw new TbuildError('TB_CONTAINER_STATE', `cannot remove container "/${c.name}": container is running: stop the container before removing or force remove`);
      }
      await this.kill(c.id);
      await new Promise((r) => setImmediate(r));
    }
    if (!this.records.delete(c.id)) return;
    this.#emitEvent('destroy', c);
    for (const w of this.#removeWaiters.get(c.id)?.splice(0) ?? []) w();
  }

  async connectNetwork(): Promise<void> {
    throw new Error('networks are not faked');
  }

  async disconnectNetwork(): Promise<void> {
    throw new Error('networks are not faked');
  }

  async stats(idOrName: string): Promise<import('../../../src/containers/types.js').StatsSample> {
    await this.inspect(idOrName);
    throw new TbuildError('TB_NOT_IMPLEMENTED', 'the fake container manager has no cgroups');
  }

  async update(idOrName: string): Promise<void> {
    await this.inspect(idOrName);
    throw new TbuildError('TB_NOT_IMPLEMENTED', 'the fake container manager has no cgroups');
  }

  /** Sizes asked for, per container id (a fake has no terminal). */
  readonly resizes: Array<{ id: string; height: number; width: number }> = [];

  async resize(idOrName: string, size: { height: number; width: number }): Promise<void> {
    const c = await this.inspect(idOrName);
    if (!this.live.has(c.id)) throw new TbuildError('TB_CONTAINER_STATE', `Container ${c.id} is not running`);
    this.resizes.push({ id: c.id, ...size });
  }

  async rename(idOrName: string, newName: string): Promise<void> {
    const c = await this.inspect(idOrName);
    c.name = newName;
  }

  async *logs(idOrName: string, opts: LogOptions): AsyncIterable<LogEntry> {
    const c = await this.inspect(idOrName);
    const all = this.logs_.get(c.id)!;
    const pick = (e: LogEntry) => (e.stream === 'stdout' ? opts.stdout !== false : opts.stderr !== false);
    let start = opts.tail === undefined || opts.tail === 'all' ? 0 : Math.max(0, all.length - opts.tail);
    for (;;) {
      while (start < all.length) {
        const e = all[start++]!;
        if (pick(e)) yield e;
      }
      if (!opts.follow || !this.live.has(c.id)) return;
      await new Promise((r) => this.once(`log:${c.id}`, r));
    }
  }

  async top(idOrName: string): Promise<{ titles: string[]; processes: string[][] }> {
    const c = await this.inspect(idOrName);
    if (!this.live.has(c.id)) throw new TbuildError('TB_CONTAINER_STATE', `Container ${c.id} is not running`);
    return { titles: ['UID', 'PID', 'CMD'], processes: [['root', '4242', [c.path, ...c.args].join(' ')]] };
  }

  async changes(): Promise<Array<{ Path: string; Kind: 0 | 1 | 2 }>> {
    return [{ Path: '/tmp', Kind: 0 }, { Path: '/tmp/x', Kind: 1 }];
  }

  async export(): Promise<Readable> {
    return Readable.from([Buffer.alloc(1024)]);
  }

  async getArchive(_id: string, path: string) {
    if (path.includes('..')) throw new TbuildError('TB_PATH_ESCAPE', `path ${path} escapes the container root`);
    return { tar: Readable.from([Buffer.alloc(1024)]), stat: { name: path.split('/').pop() ?? '/', size: 3, mode: path.endsWith('/') || path === '/tmp' ? 0o040755 : 0o100644, mtime: new Date().toISOString(), linkTarget: '' } };
  }

  putArchives: Array<{ path: string; bytes: number }> = [];

  async putArchive(_id: string, path: string, tar: Readable): Promise<void> {
    if (path.includes('..')) throw new TbuildError('TB_PATH_ESCAPE', `path ${path} escapes the container root`);
    let bytes = 0;
    for await (const chunk of tar) bytes += (chunk as Buffer).length;
    this.putArchives.push({ path, bytes });
  }

  async exec(idOrName: string, opts: ExecOptions, io: AttachStreams): Promise<{ exitCode: number }> {
    const c = await this.inspect(idOrName);
    if (!this.live.has(c.id)) throw new TbuildError('TB_CONTAINER_STATE', `Container ${c.id} is not running`);
    const p = this.#run({ workingDir: opts.workingDir ?? c.workingDir }, opts.cmd, opts.attachStdin ? io.stdin : undefined);
    if (io.stdout) p.stdout.pipe(io.stdout as Writable, { end: false });
    if (io.stderr) p.stderr.pipe(io.stderr as Writable, { end: false });
    const exitCode = await p.exited;
    await new Promise((r) => setImmediate(r));
    return { exitCode };
  }

  async prune(): Promise<{ deleted: string[]; spaceReclaimed: number }> {
    const deleted: string[] = [];
    for (const c of [...this.records.values()]) {
      if (c.state.status === 'exited' || c.state.status === 'created') {
        await this.remove(c.id);
        deleted.push(c.id);
      }
    }
    return { deleted, spaceReclaimed: 0 };
  }

  async close(): Promise<void> {
    for (const l of this.live.values()) l.kill('SIGKILL');
  }
}
