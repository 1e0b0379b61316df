import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, openSync, closeSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Readable, Duplex } from 'node:stream';
import type { EngineParts } from '../engine.js';
import { TbuildError, isTbuildError, type ErrorCode, ERROR_CODES } from '../errors.js';
import { createRuncExecutor, isRuncControl, parsePs, type RuncControl } from '../exec/runc.js';
import { KEEP_LABEL } from '../cache/snapshotter.js';
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
} from './types.js';
import { attachClient, attachSocketPath } from './attach.js';
import { STANDBY_ARG } from './shim.js';
import { readJsonLog } from './logs.js';
import { effectiveCommand, mergeEnv, randomName, runtimeConfig } from './config.js';
import { VolumeStore } from './volumes.js';
import { ContainerRecords, isLive, pidAlive, shimAlive } from './records.js';
import { containerChanges, containerExport, getArchive, putArchive } from './fs.js';
import { containerDir, emptyState, removeDir, writeConfig, writeJsonReplace, writeState, STOP_MARKER, type StartRequest, type StoredConfig } from './store.js';

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Open the container manager for a state root (reconciles containers whose shim has died). */
export async function openContainerManager(parts: EngineParts, opts: { volumes?: VolumeStore } = {}): Promise<LocalContainerManager> {
  const m = new LocalContainerManager(parts, opts.volumes);
  await m.init();
  return m;
}

export class LocalContainerManager implements ContainerManager {
  readonly volumes: VolumeStore;
  readonly #parts: EngineParts;
  readonly #root: string;
  readonly #runtime: string;
  readonly #control: RuncControl;
  readonly #records: ContainerRecords;
  readonly #events = new EventEmitter();
  /** Output of attachments made by this process, drained before `wait` reports an exit. */
  readonly #attached = new Map<string, Promise<unknown>>();
  /** Final exit codes of containers this process removed, for `wait(id, 'removed')`. */
  readonly #removedExit = new Map<string, number>();
  #standby: ChildProcess | undefined;
  #keepWarm = false;

  constructor(parts: EngineParts, volumes?: VolumeStore) {
    this.#parts = parts;
    this.#root = parts.root;
    this.volumes = volumes ?? new VolumeStore(parts.root);
    const ex = parts.executor as unknown;
    this.#control = isRuncControl(ex) ? ex : createRuncExecutor({ root: parts.root, runtime: process.env.TBUILD_RUNTIME ?? 'runc' });
    this.#runtime = this.#control.runtime;
    this.#records = new ContainerRecords(parts.root, this.#control);
  }

  async init(): Promise<void> {
    await mkdir(join(this.#root, 'containers'), { recursive: true });
    await this.#control.sweep().catch(() => []);
    this.volumes.setInUseCheck(async (name) => {
      const users: string[] = [];
      for (const c of await this.#records.configs()) if (c.runtime.volumes.includes(name)) users.push(c.id);
      return users;
    });
    this.#parts.images.setInUseCheck(async (imageId) => {
      for (const c of await this.#records.configs()) {
        if (c.imageId !== imageId) continue;
        const s = await this.#records.state(c);
        return { container: c.id, running: s.status === 'running' || s.status === 'paused' };
      }
      return undefined;
    });
    for (const c of await this.#records.configs()) {
      const s = await this.#records.state(c);
      if (s.status === 'exited' && c.options.autoRemove) await this.remove(c.id, { force: true, volumes: true }).catch(() => {});
    }
  }

  on(event: 'event', listener: (e: ContainerEvent) => void): void {
    this.#events.on(event, listener);
  }

  #emit(action: ContainerEvent['action'], c: StoredConfig, extra: Record<string, string> = {}): void {
    this.#events.emit('event', { action, id: c.id, attributes: { name: c.name, image: c.image, ...extra } });
  }

  async close(): Promise<void> {
    this.#records.closed = true;
    this.#standby?.stdin?.end();
    this.#standby = undefined;
    await Promise.allSettled([...this.#attached.values()]);
  }

  // ───────────── lifecycle ─────────────

  async create(opts: CreateContainerOptions): Promise<ContainerRecord> {
    const all = await this.#records.configs();
    if (opts.name !== undefined) {
      if (!NAME_RE.test(opts.name)) {
        throw new TbuildError('TB_INVALID_ARGUMENT', `Invalid container name (${opts.name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
      }
      const clash = all.find((c) => c.name === opts.name);
      if (clash) {
        throw new TbuildError(
          'TB_CONTAINER_NAME_IN_USE',
          `Conflict. The container name "/${opts.name}" is already in use by container "${clash.id}". You have to remove (or rename) that container to be able to reuse that name.`,
        );
      }
    }
    const img = await this.#parts.images.resolve(opts.image);
    // a start usually follows: let its shim boot meanwhile
    this.#prewarm();
    const cfg = img.config.config;
    const full = effectiveCommand(opts, img);
    const id = randomBytes(32).toString('hex');
    const name = opts.name ?? randomName(new Set(all.map((c) => c.name)));
    const dir = containerDir(this.#root, id);
    await mkdir(dir, { recursive: true, mode: 0o710 });
    const snapshotKey = `ctr-${id}`;
    const top = img.layers.at(-1)?.snapshot;
    try {
      await this.#parts.snapshots.prepare(snapshotKey, top, { [KEEP_LABEL]: 'container', 'tbuild.container': id });
      const rt = await runtimeConfig(id, opts, img, this.volumes);
      const stored: StoredConfig = {
        id,
        name,
        image: opts.image,
        imageId: img.id,
        created: new Date().toISOString(),
        options: opts,
        path: full[0]!,
        args: full.slice(1),
        env: mergeEnv(cfg.Env ?? [], opts.env ?? []),
        workingDir: opts.workingDir ?? cfg.WorkingDir ?? '',
        user: opts.user ?? cfg.User ?? '',
        snapshotKey,
        logPath: join(dir, `${id}-json.log`),
        runtime: rt,
      };
      await writeState(this.#root, id, emptyState());
      await writeConfig(this.#root, stored);
      this.#emit('create', stored);
      return this.#records.record(stored);
    } catch (err) {
      await this.#parts.snapshots.remove(snapshotKey).catch(() => {});
      await removeDir(this.#root, id);
      throw err;
    }
  }

  async start(ref: string, io?: AttachStreams): Promise<void> {
    const c = await this.#records.must(ref);
    const s = await this.#records.state(c);
    if (s.status === 'running' || s.status === 'restarting') return;
    if (s.status === 'paused') throw new TbuildError('TB_CONTAINER_STATE', `cannot start a paused container, try unpause instead`);
    const dir = containerDir(this.#root, c.id);
    // A previous shim may still be closing its attach socket, which the new one will reuse.
    for (let i = 0; i < 100 && s.shimPid && shimAlive(s.shimPid, c.id, s.shimStart); i++) await new Promise((r) => setTimeout(r, 50));
    const rootfsMounts = await this.#parts.snapshots.mounts(c.snapshotKey);
    await writeState(this.#root, c.id, { ...s, status: 'created', error: '', errorCode: undefined });
    const req: StartRequest = { runtime: this.#runtime, rootfsMounts, waitAttach: Boolean(io) };
    await writeJsonReplace(join(dir, 'start.json'), req);
    await rm(join(dir, STOP_MARKER), { force: true });
    const shimPid = this.#spawnShim(c.id);
    if (io) {
      const a = await attachClient(attachSocketPath(dir), io, { alive: () => pidAlive(shimPid) });
      this.#attached.set(c.id, a.done);
      void a.done.finally(() => {
        if (this.#attached.get(c.id) === a.done) this.#attached.delete(c.id);
      });
    }
    let st = await this.#records.until(c, (x) => x.status !== 'created' || x.error !== '' || !pidAlive(shimPid));
    // the shim may have finished between the state read and the liveness check
    if (st.status === 'created' && !st.error) st = await this.#records.state(c);
    if (st.status === 'created' && !st.error) {
      const log = await readFile(join(dir, 'shim.log'), 'utf8').catch(() => '');
      throw new TbuildError('TB_RUNTIME_FAILED', `container monitor exited before starting the container: ${log.trim().split('\n').slice(-5).join('\n')}`);
    }
    if (st.error && st.status !== 'running') {
      const code = (st.errorCode && st.errorCode in ERROR_CODES ? st.errorCode : 'TB_RUNTIME_FAILED') as ErrorCode;
      throw new TbuildError(code, st.error);
    }
    this.#emit('start', c);
    void this.#watchExit(c, s.finishedAt);
  }

  /** How to run the shim module: plain node from dist, node with tsx from source. */
  #shimCommand(): { args: string[]; cwd: string } {
    const here = fileURLToPath(import.meta.url);
    const fromSource = here.endsWith('.ts');
    const shim = join(dirname(here), fromSource ? 'shim.ts' : 'shim.js');
    // tsx must resolve from the project, whatever the caller's cwd
    return { args: fromSource ? ['--import', 'tsx', shim] : [shim], cwd: join(dirname(here), '..', '..') };
  }

  /**
   * Start a shim ahead of need: it loads its modules, then waits for a container id on a pipe, so
   * a start skips node's boot. It exits when that pipe closes (this process ended or closed).
   */
  #prewarm(): void {
    if (this.#standby || this.#records.closed) return;
    const { args, cwd } = this.#shimCommand();
    const child = spawn(process.execPath, [...args, this.#root, STANDBY_ARG], { detached: true, stdio: ['pipe', 'ignore', 'ignore'], cwd });
    child.on('error', () => {});
    child.stdin!.on('error', () => {});
    child.unref();
    // the pipe must not keep this process alive either
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    const sb = child;
    child.once('exit', () => {
      if (this.#standby === sb) this.#standby = undefined;
    });
    this.#standby = child;
  }

  /** Hand the container to the standby shim when one is waiting, else spawn one; returns its pid. */
  #spawnShim(id: string): number {
    const sb = this.#standby;
    this.#standby = undefined;
    if (sb?.pid && sb.exitCode === null && sb.signalCode === null && sb.stdin?.writable) {
      sb.stdin.end(id + '\n');
      if (this.#keepWarm) setImmediate(() => this.#prewarm());
      return sb.pid;
    }
    sb?.stdin?.end();
    const { args, cwd } = this.#shimCommand();
    const logFd = openSync(join(containerDir(this.#root, id), 'shim.log'), 'a');
    try {
      const child = spawn(process.execPath, [...args, this.#root, id], { detached: true, stdio: ['ignore', logFd, logFd], cwd });
      child.on('error', () => {});
      child.unref();
      return child.pid ?? 0;
    } finally {
      closeSync(logFd);
    }
  }

  /**
   * Keep a standby shim started at all times (for long-lived processes such as the daemon, where
   * every `run` then skips a node boot). Without it, one is started only as a container is created.
   */
  keepWarm(): void {
    this.#keepWarm = true;
    this.#prewarm();
  }

  /** Emit `die` (and honour --rm) when a container this process started exits. */
  async #watchExit(c: StoredConfig, previousFinish: string): Promise<void> {
    const s = await this.#records.until(c, (x) => x.status === 'exited' && x.finishedAt !== previousFinish, true).catch(() => undefined);
    if (!s) return;
    this.#emit('die', c, { exitCode: String(s.exitCode) });
    if (c.options.autoRemove) {
      await this.#attached.get(c.id);
      await this.remove(c.id, { force: true, volumes: true }).catch(() => {});
    }
  }

  async attach(ref: string, io: AttachStreams): Promise<void> {
    const c = await this.#records.must(ref);
    const s = await this.#records.state(c);
    if (s.status !== 'running' && s.status !== 'paused') {
      throw new TbuildError('TB_CONTAINER_STATE', `You cannot attach to a stopped container, start it first`);
    }
    const a = await attachClient(attachSocketPath(containerDir(this.#root, c.id)), io, { alive: () => !!s.shimPid && shimAlive(s.shimPid, c.id, s.shimStart) });
    this.#emit('attach', c);
    await a.done;
  }

  async wait(ref: string, condition: WaitCondition = 'not-running'): Promise<{ exitCode: number }> {
    const c = await this.#records.must(ref);
    if (condition === 'removed') {
      const stateFile = join(containerDir(this.#root, c.id), 'state.json');
      let last = await this.#records.state(c);
      try {
        await this.#records.until(c, (s) => {
          // a read that raced the removal yields an empty state, not the container's
          if (existsSync(stateFile)) last = s;
          return false;
        });
      } catch (err) {
        if (isTbuildError(err, 'TB_CONTAINER_NOT_FOUND')) return { exitCode: this.#removedExit.get(c.id) ?? last.exitCode };
        throw err;
      }
    }
    const first = await this.#records.state(c);
    const s =
      condition === 'next-exit'
        ? await this.#records.until(c, (x) => x.status === 'exited' && x.finishedAt !== first.finishedAt)
        : await this.#records.until(c, (x) => x.status !== 'running' && x.status !== 'paused');
    await this.#attached.get(c.id);
    return { exitCode: s.exitCode };
  }

  async stop(ref: string, timeoutSeconds = 10): Promise<void> {
    const c = await this.#records.must(ref);
    const s = await this.#records.state(c);
    if (!isLive(s.status)) return;
    await this.#requestStop(c);
    if (s.status === 'restarting') {
      await this.#records.until(c, (x) => x.status === 'exited');
      this.#emit('stop', c);
      return;
    }
    const sig = c.runtime.stopSignal ?? 'SIGTERM';
    if (s.status === 'paused') await this.#control.runtimeCommand(['resume', c.id]).catch(() => {});
    await this.#signal(c, sig);
    const stopped = await Promise.race([
      this.#records.until(c, (x) => x.status === 'exited').then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), Math.max(0, timeoutSeconds) * 1000).unref()),
    ]);
    if (!stopped) {
      await this.#signal(c, 'SIGKILL');
      await this.#records.until(c, (x) => x.status === 'exited');
    }
    this.#emit('stop', c);
  }

  /** Tell the shim that the user stopped the container, so its restart policy does not apply. */
  async #requestStop(c: StoredConfig): Promise<void> {
    await writeFile(join(containerDir(this.#root, c.id), STOP_MARKER), '').catch(() => {});
  }

  async #signal(c: StoredConfig, signal: string): Promise<void> {
    const sig = /^\d+$/.test(signal) ? signal : signal.toUpperCase().replace(/^SIG/, '');
    this.#emit('kill', c, { signal: sig });
    await this.#control.runtimeCommand(['kill', c.id, sig]).catch((err: unknown) => {
      // already gone between the state check and the kill: nothing left to signal
      if (!/not running|does not exist|container not running/.test((err as Error).message)) throw err;
    });
  }

  async kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    const c = await this.#records.must(ref);
    const s = await this.#records.state(c);
    if (s.status !== 'running' && s.status !== 'paused') {
      throw new TbuildError('TB_CONTAINER_STATE', `Cannot kill container: ${ref}: Container ${c.id} is not running`);
    }
    await this.#requestStop(c);
    await this.#signal(c, signal);
  }

  async restart(ref: string, timeoutSeconds = 10): Promise<void> {
    const c = await this.#records.must(ref);
    await this.stop(c.id, timeoutSeconds);
    await this.start(c.id);
    this.#emit('restart', c);
  }

  async pause(ref: string): Promise<void> {
    const c = await this.#records.must(ref);
    const s = await this.#records.state(c);
    if (s.status !== 'running') throw new TbuildError('TB_CONTAINER_STATE', `Container ${c.id} is not running`);
    await this.#control.runtimeCommand(['pause', c.id]);
    this.#emit('pause', c);
  }

  async unpause(ref: string): Promise<void> {
    const c = await this.#records.must(ref);
    const s = await this.#records.state(c);
    if (s.status !== 'paused') throw new TbuildError('TB_CONTAINER_STATE', `Container ${c.id} is not paused`);
    await this.#control.runtimeCommand(['resume', c.id]);
    this.#emit('unpause', c);
  }

  async remove(ref: string, opts: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    const c = await this.#records.must(ref);
    const s = await this.#records.state(c);
    if (isLive(s.status)) {
      if (!opts.force) {
        throw new TbuildError(
          'TB_CONTAINER_STATE',
          `cannot remove container "/${c.name}": container is running: stop the container before removing or force remove`,
        );
      }
      await this.#requestStop(c);
      if (s.status === 'paused') await this.#control.runtimeCommand(['resume', c.id]).catch(() => {});
      if (s.status !== 'restarting') await this.#signal(c, 'SIGKILL');
      await this.#records.until(c, (x) => x.status === 'exited');
    }
    const final = await this.#records.state(c);
    this.#removedExit.set(c.id, final.exitCode);
    if (this.#removedExit.size > 1000) this.#removedExit.delete(this.#removedExit.keys().next().value!);
    await this.#records.release(c.id);
    await this.#parts.snapshots.remove(c.snapshotKey).catch((err: unknown) => {
      if (!isTbuildError(err, 'TB_SNAPSHOT_NOT_FOUND')) throw err;
    });
    await removeDir(this.#root, c.id);
    if (opts.volumes) {
      for (const v of c.runtime.anonymousVolumes) await this.volumes.remove(v).catch(() => {});
    }
    this.#emit('destroy', c);
  }

  async rename(ref: string, newName: string): Promise<void> {
    const c = await this.#records.must(ref);
    const name = newName.replace(/^\//, '');
    if (!NAME_RE.test(name)) throw new TbuildError('TB_INVALID_ARGUMENT', `Invalid container name (${newName}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    const clash = (await this.#records.configs()).find((x) => x.name === name && x.id !== c.id);
    if (clash) throw new TbuildError('TB_CONTAINER_NAME_IN_USE', `Conflict. The container name "/${name}" is already in use by container "${clash.id}". You have to remove (or rename) that container to be able to reuse that name.`);
    const old = c.name;
    await writeConfig(this.#root, { ...c, name });
    this.#emit('rename', { ...c, name }, { oldName: `/${old}` });
  }

  async get(ref: string): Promise<ContainerRecord | undefined> {
    const c = await this.#records.find(ref);
    return c ? this.#records.record(c) : undefined;
  }

  async inspect(ref: string): Promise<ContainerRecord> {
    return this.#records.record(await this.#records.must(ref));
  }

  async list(opts: { all?: boolean } = {}): Promise<ContainerRecord[]> {
    const out: ContainerRecord[] = [];
    for (const c of await this.#records.configs()) {
      const r = await this.#records.record(c);
      if (opts.all || r.state.status === 'running' || r.state.status === 'paused') out.push(r);
    }
    return out.sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : 0));
  }

  async *logs(ref: string, opts: LogOptions): AsyncIterable<LogEntry> {
    const c = await this.#records.must(ref);
    const running = async () => {
      if (!existsSync(containerDir(this.#root, c.id))) return false;
      const s = await this.#records.state(c);
      return isLive(s.status) || (s.status === 'created' && existsSync(join(containerDir(this.#root, c.id), 'start.json')));
    };
    yield* readJsonLog(c.logPath, opts, running);
  }

  async top(ref: string, psArgs = '-ef'): Promise<{ titles: string[]; processes: string[][] }> {
    const c = await this.#records.must(ref);
    const s = await this.#records.state(c);
    if (s.status !== 'running' && s.status !== 'paused') throw new TbuildError('TB_CONTAINER_STATE', `Container ${c.id} is not running`);
    return parsePs(await this.#control.runtimeCommand(['ps', c.id, ...psArgs.split(/\s+/).filter(Boolean)]));
  }

  async changes(ref: string): Promise<Array<{ Path: string; Kind: 0 | 1 | 2 }>> {
    const c = await this.#records.must(ref);
    return containerChanges(this.#parts.snapshots, c.snapshotKey);
  }

  async export(ref: string): Promise<Readable> {
    const c = await this.#records.must(ref);
    return containerExport(this.#parts, c.snapshotKey, join(containerDir(this.#root, c.id), 'rootfs'));
  }

  async getArchive(ref: string, path: string): ReturnType<ContainerManager['getArchive']> {
    const c = await this.#records.must(ref);
    return getArchive(this.#parts, c.snapshotKey, join(containerDir(this.#root, c.id), 'rootfs'), path);
  }

  async putArchive(ref: string, path: string, tar: Readable): Promise<void> {
    const c = await this.#records.must(ref);
    await putArchive(this.#parts, c.snapshotKey, join(containerDir(this.#root, c.id), 'rootfs'), path, tar);
  }

  async exec(ref: string, opts: ExecOptions, io: AttachStreams & { stdio?: Duplex }): Promise<{ exitCode: number }> {
    const c = await this.#records.must(ref);
    const s = await this.#records.state(c);
    if (s.status === 'paused') throw new TbuildError('TB_CONTAINER_STATE', `Container ${c.id} is paused, unpause the container before exec`);
    if (s.status !== 'running') throw new TbuildError('TB_CONTAINER_STATE', `Container ${c.id} is not running`);
    this.#emit('exec_start', c, { execID: '' });
    const st = await this.#control.execProcess(
      c.id,
      join(containerDir(this.#root, c.id), 'rootfs'),
      {
        args: opts.cmd,
        env: mergeEnv([`HOSTNAME=${c.runtime.hostname}`, ...c.env], opts.env ?? []),
        cwd: opts.workingDir || c.workingDir || '/',
        user: opts.user ?? c.user,
        tty: Boolean(opts.tty),
      },
      {
        ...(opts.attachStdin ? { stdin: io.stdin ?? io.stdio } : {}),
        ...(io.stdout ?? io.stdio ? { stdout: io.stdout ?? io.stdio } : {}),
        ...(io.stderr ?? io.stdio ? { stderr: io.stderr ?? io.stdio } : {}),
      },
    );
    this.#emit('exec_die', c, { exitCode: String(st.exitCode) });
    return { exitCode: st.exitCode };
  }

  async prune(): Promise<{ deleted: string[]; spaceReclaimed: number }> {
    const deleted: string[] = [];
    let spaceReclaimed = 0;
    for (const c of await this.#records.configs()) {
      const s = await this.#records.state(c);
      if (s.status === 'running' || s.status === 'paused') continue;
      spaceReclaimed += (await this.#parts.snapshots.usage(c.snapshotKey).catch(() => ({ size: 0 }))).size;
      await this.remove(c.id);
      deleted.push(c.id);
    }
    return { deleted, spaceReclaimed };
  }
}

