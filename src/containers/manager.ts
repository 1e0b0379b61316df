import { checkFilterNames, matchLabels, PRUNE_FILTERS, untilTime, type Filters } from '../util/filters.js';
import { parseSignal } from './signals.js';
import { initLayerName } from './init-layer.js';
import { ContainerQueries } from './queries.js';
import { watchHealth } from './health.js';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TbuildError, isTbuildError, type ErrorCode, ERROR_CODES } from '../errors.js';
import type {
  AttachStreams,
  ContainerEvent,
  ContainerDeps,
  ContainerManager,
  ContainerRecord,
  CreateContainerOptions,
  ExecOptions,
  WaitCondition,
  ExecStreams,
} from './types.js';
import { attachClient, attachSocketPath } from './attach.js';
import { ShimLauncher } from './shim-launcher.js';
import type { Volumes } from '../volumes/types.js';
import { ContainerRecords, isLive, pidAlive, shimAlive } from './records.js';
import { containerDir, removeDir, writeConfig, writeJsonReplace, writeState, STOP_MARKER, type StartRequest, type StoredConfig } from './store.js';
import { checkName, createContainer } from './create.js';
import { execInContainer } from './exec.js';
import { connectContainer, disconnectContainer } from './networks.js';
import { thawAbandoned } from './frozen-by.js';

/** Open the container manager for a state root (reconciles containers whose shim has died). */
export async function openContainerManager(deps: ContainerDeps): Promise<LocalContainerManager> {
  const m = new LocalContainerManager(deps);
  await m.init();
  return m;
}

export class LocalContainerManager extends ContainerQueries implements ContainerManager {
  readonly volumes: Volumes;
  readonly #runtime: string;
  readonly #events = new EventEmitter();
  /** Output of attachments made by this process, drained before `wait` reports an exit. */
  readonly #attached = new Map<string, Promise<unknown>>();
  /** Final exit codes of containers this process removed, for `wait(id, 'removed')`. */
  readonly #removedExit = new Map<string, number>();
  readonly #removing = new Map<string, Promise<void>>();
  readonly #shims: ShimLauncher;

  constructor(parts: ContainerDeps) {
    super(parts);
    this.volumes = parts.volumes;
    this.#runtime = this.control.runtime;
    this.#shims = new ShimLauncher(parts.root);
  }

  async init(): Promise<void> {
    await mkdir(join(this.root, 'containers'), { recursive: true });
    await this.control.sweep().catch(() => []);
    // containers a killed copy, export or commit left frozen
    await thawAbandoned(this.root, (await this.records.configs()).map((c) => c.id), (id) => this.control.runtimeCommand(['resume', id]));
    for (const c of await this.records.configs()) {
      const s = await this.records.state(c);
      if (s.status === 'exited' && c.options.autoRemove) await this.remove(c.id, { force: true, volumes: true }).catch(() => {});
    }
  }

  /** Names of containers that mount volume `name` (the volume store asks before removing it). */
  volumeUsers(name: string): Promise<string[]> {
    return this.records.volumeUsers(name);
  }

  /** A container that uses image `imageId`, if any (the image store asks before removing it). */
  imageUser(imageId: string): ReturnType<ContainerRecords['imageUser']> {
    return this.records.imageUser(imageId);
  }

  on(event: 'event', listener: (e: ContainerEvent) => void): void {
    this.#events.on(event, listener);
  }

  #emit(action: ContainerEvent['action'], c: StoredConfig, extra: Record<string, string> = {}): void {
    // Docker's container events carry the container's labels (`events --filter label=`), then its name and image
    this.#events.emit('event', { action, id: c.id, attributes: { ...c.options.labels, name: c.name, image: c.image, ...extra } });
  }

  async close(): Promise<void> {
    this.records.closed = true;
    this.#shims.close();
    await Promise.allSettled([...this.#attached.values()]);
  }

  // ───────────── lifecycle ─────────────

  async create(opts: CreateContainerOptions): Promise<ContainerRecord> {
    return createContainer(
      {
        root: this.root,
        parts: this.parts,
        volumes: this.volumes,
        all: await this.records.configs(),
        prewarm: () => this.#shims.prewarm(),
        created: (stored) => {
          this.#emit('create', stored);
          return this.records.record(stored);
        },
      },
      opts,
    );
  }

  async start(ref: string, io?: AttachStreams): Promise<void> {
    const c = await this.records.must(ref);
    const s = await this.records.state(c);
    if (s.status === 'running' || s.status === 'restarting') return;
    if (s.status === 'paused') throw new TbuildError('TB_CONTAINER_STATE', `cannot start a paused container, try unpause instead`);
    if (c.runtime.netContainer) {
      const joined = await this.records.must(c.runtime.netContainer);
      const js = await this.records.state(joined);
      if (js.status !== 'running' && js.status !== 'paused') {
        throw new TbuildError('TB_CONTAINER_STATE', `cannot join network of a non running container: ${c.options.network?.slice('container:'.length) ?? joined.id}`);
      }
    }
    const dir = containerDir(this.root, c.id);
    // A previous shim may still be closing its attach socket, which the new one will reuse.
    for (let i = 0; i < 100 && s.shimPid && shimAlive(s.shimPid, c.id, s.shimStart); i++) await new Promise((r) => setTimeout(r, 50));
    // Docker's `-v /host:/ctr` makes a missing host directory at each start, not only at create
    for (const m of c.options.mounts ?? []) if (m.type === 'bind' && m.createSource) await mkdir(m.source, { recursive: true, mode: 0o755 });
    const rootfsMounts = await this.parts.snapshots.mounts(c.snapshotKey);
    await writeState(this.root, c.id, { ...s, status: 'created', error: '', errorCode: undefined });
    const sp = this.control.securityPaths;
    const req: StartRequest = { runtime: this.#runtime, rootfsMounts, waitAttach: Boolean(io), ...(sp ? { security: sp } : {}) };
    await writeJsonReplace(join(dir, 'start.json'), req);
    await rm(join(dir, STOP_MARKER), { force: true });
    const shimPid = this.#shims.launch(c.id);
    if (io) {
      const a = await attachClient(attachSocketPath(dir), io, { alive: () => pidAlive(shimPid) });
      this.#attached.set(c.id, a.done);
      void a.done.then((status) => {
        if (this.#attached.get(c.id) === a.done) this.#attached.delete(c.id);
        if (!status) io.detached?.();
      });
    }
    let st = await this.records.until(c, (x) => x.status !== 'created' || x.error !== '' || !pidAlive(shimPid));
    // the shim may have finished between the state read and the liveness check
    if (st.status === 'created' && !st.error) st = await this.records.state(c);
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
    if (c.runtime.healthcheck) {
      const running = async () => !this.records.closed && (await this.records.state(c).catch(() => undefined))?.status === 'running';
      void watchHealth(this.root, c.id, running, (status) => this.#emit(`health_status: ${status}`, c)).catch(() => {});
    }
  }

  /**
   * Keep a standby shim started at all times (for long-lived processes such as the daemon, where
   * every `run` then skips a node boot). Without it, one is started only as a container is created.
   */
  keepWarm(): void {
    this.#shims.keepWarm();
  }

  /** Emit `die` (and honour --rm) when a container this process started exits. */
  async #watchExit(c: StoredConfig, previousFinish: string): Promise<void> {
    const s = await this.records.until(c, (x) => x.status === 'exited' && x.finishedAt !== previousFinish, true).catch(() => undefined);
    if (!s) return;
    this.#emit('die', c, { exitCode: String(s.exitCode) });
    if (c.options.autoRemove) {
      await this.#attached.get(c.id);
      await this.remove(c.id, { force: true, volumes: true }).catch(() => {});
    }
  }

  async attach(ref: string, io: AttachStreams): Promise<void> {
    const c = await this.records.must(ref);
    const s = await this.records.state(c);
    if (s.status !== 'running' && s.status !== 'paused') {
      throw new TbuildError('TB_CONTAINER_STATE', `You cannot attach to a stopped container, start it first`);
    }
    const a = await attachClient(attachSocketPath(containerDir(this.root, c.id)), io, { alive: () => !!s.shimPid && shimAlive(s.shimPid, c.id, s.shimStart) });
    this.#emit('attach', c);
    if (!(await a.done)) io.detached?.();
  }

  async wait(ref: string, condition: WaitCondition = 'not-running'): Promise<{ exitCode: number }> {
    const c = await this.records.must(ref);
    if (condition === 'removed') {
      const stateFile = join(containerDir(this.root, c.id), 'state.json');
      let last = await this.records.state(c);
      try {
        await this.records.until(c, (s) => {
          // a read that raced the removal yields an empty state, not the container's
          if (existsSync(stateFile)) last = s;
          return false;
        });
      } catch (err) {
        if (isTbuildError(err, 'TB_CONTAINER_NOT_FOUND')) return { exitCode: this.#removedExit.get(c.id) ?? last.exitCode };
        throw err;
      }
    }
    const first = await this.records.state(c);
    const s =
      condition === 'next-exit'
        ? await this.records.until(c, (x) => x.status === 'exited' && x.finishedAt !== first.finishedAt)
        : await this.records.until(c, (x) => x.status !== 'running' && x.status !== 'paused');
    await this.#attached.get(c.id);
    return { exitCode: s.exitCode };
  }

  async stop(ref: string, timeoutSeconds?: number, signal?: string): Promise<void> {
    const stopWith = signal === undefined ? undefined : parseSignal(signal);
    const c = await this.records.must(ref);
    const s = await this.records.state(c);
    if (!isLive(s.status)) return;
    await this.#requestStop(c);
    if (s.status === 'restarting') {
      await this.records.until(c, (x) => x.status === 'exited');
      this.#emit('stop', c);
      return;
    }
    const sig = stopWith ?? c.runtime.stopSignal ?? 'SIGTERM';
    if (s.status === 'paused') await this.control.runtimeCommand(['resume', c.id]).catch(() => {});
    await this.#signal(c, sig);
    // Docker: a negative timeout waits for the stop signal to work, however long it takes
    const timeout = timeoutSeconds ?? c.options.stopTimeout ?? 10;
    const exited = this.records.until(c, (x) => x.status === 'exited').then(() => true);
    const stopped = timeout < 0 ? await exited : await Promise.race([exited, new Promise<boolean>((r) => setTimeout(() => r(false), timeout * 1000).unref())]);
    if (!stopped) {
      await this.#signal(c, 'SIGKILL');
      await this.records.until(c, (x) => x.status === 'exited');
    }
    this.#emit('stop', c);
  }

  /** Tell the shim that the user stopped the container, so its restart policy does not apply. */
  async #requestStop(c: StoredConfig): Promise<void> {
    await writeFile(join(containerDir(this.root, c.id), STOP_MARKER), '').catch(() => {});
  }

  async #signal(c: StoredConfig, signal: string): Promise<void> {
    const sig = /^\d+$/.test(signal) ? signal : signal.toUpperCase().replace(/^SIG/, '');
    this.#emit('kill', c, { signal: sig });
    await this.control.runtimeCommand(['kill', c.id, sig]).catch((err: unknown) => {
      // already gone between the state check and the kill: nothing left to signal
      if (!/not running|does not exist|container not running/.test((err as Error).message)) throw err;
    });
  }

  async kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    const sig = parseSignal(signal);
    const c = await this.records.must(ref);
    const s = await this.records.state(c);
    if (s.status !== 'running' && s.status !== 'paused') {
      throw new TbuildError('TB_CONTAINER_STATE', `Cannot kill container: ${ref}: Container ${c.id} is not running`);
    }
    await this.#requestStop(c);
    await this.#signal(c, sig);
  }

  async restart(ref: string, timeoutSeconds?: number, signal?: string): Promise<void> {
    const c = await this.records.must(ref);
    await this.stop(c.id, timeoutSeconds, signal);
    await this.start(c.id);
    this.#emit('restart', c);
  }

  async pause(ref: string): Promise<void> {
    const c = await this.records.must(ref);
    const s = await this.records.state(c);
    if (s.status !== 'running') throw new TbuildError('TB_CONTAINER_STATE', `Container ${c.id} is not running`);
    await this.control.runtimeCommand(['pause', c.id]);
    this.#emit('pause', c);
  }

  async unpause(ref: string): Promise<void> {
    const c = await this.records.must(ref);
    const s = await this.records.state(c);
    if (s.status !== 'paused') throw new TbuildError('TB_CONTAINER_STATE', `Container ${c.id} is not paused`);
    await this.control.runtimeCommand(['resume', c.id]);
    this.#emit('unpause', c);
  }

  async remove(ref: string, opts: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    const c = await this.records.must(ref);
    // `run --rm` removes from two sides (the caller and the exit watcher): one removal does the work
    const busy = this.#removing.get(c.id);
    if (busy) return busy;
    const p = this.#remove(c, opts).finally(() => this.#removing.delete(c.id));
    this.#removing.set(c.id, p);
    return p;
  }

  async #remove(c: StoredConfig, opts: { force?: boolean; volumes?: boolean }): Promise<void> {
    const s = await this.records.state(c);
    if (isLive(s.status)) {
      if (!opts.force) {
        throw new TbuildError(
          'TB_CONTAINER_STATE',
          `cannot remove container "/${c.name}": container is running: stop the container before removing or force remove`,
        );
      }
      await this.#requestStop(c);
      if (s.status === 'paused') await this.control.runtimeCommand(['resume', c.id]).catch(() => {});
      if (s.status !== 'restarting') await this.#signal(c, 'SIGKILL');
      await this.records.until(c, (x) => x.status === 'exited');
    }
    const final = await this.records.state(c);
    this.#removedExit.set(c.id, final.exitCode);
    if (this.#removedExit.size > 1000) this.#removedExit.delete(this.#removedExit.keys().next().value!);
    await this.records.release(c.id);
    for (const key of [c.snapshotKey, initLayerName(c.id)]) {
      await this.parts.snapshots.remove(key).catch((err: unknown) => {
        if (!isTbuildError(err, 'TB_SNAPSHOT_NOT_FOUND')) throw err;
      });
    }
    await removeDir(this.root, c.id);
    if (opts.volumes) {
      for (const v of c.runtime.anonymousVolumes) await this.volumes.remove(v).catch(() => {});
    }
    this.#emit('destroy', c);
  }

  async rename(ref: string, newName: string): Promise<void> {
    const c = await this.records.must(ref);
    const name = newName.replace(/^\//, '');
    checkName(name, newName, await this.records.configs(), c.id);
    const old = c.name;
    await writeConfig(this.root, { ...c, name });
    this.#emit('rename', { ...c, name }, { oldName: `/${old}` });
  }

  async connectNetwork(ref: string, network: string, opts: { aliases?: string[]; ip?: string } = {}): Promise<void> {
    const c = await this.records.must(ref);
    const s = await this.records.state(c);
    await connectContainer(this.root, this.parts.network, c, s.status === 'running' || s.status === 'paused', network, opts);
  }

  async disconnectNetwork(ref: string, network: string): Promise<void> {
    const c = await this.records.must(ref);
    const s = await this.records.state(c);
    await disconnectContainer(this.root, this.parts.network, c, s.status === 'running' || s.status === 'paused', network);
  }

  async exec(ref: string, opts: ExecOptions, io: ExecStreams): Promise<{ exitCode: number }> {
    const c = await this.records.must(ref);
    const s = await this.records.state(c);
    const st = await execInContainer(this.control, this.root, c, s, opts, io, () => this.#emit('exec_start', c, { execID: '' }));
    this.#emit('exec_die', c, { exitCode: String(st.exitCode) });
    return { exitCode: st.exitCode };
  }

  async prune(filters: Filters = new Map()): Promise<{ deleted: string[]; spaceReclaimed: number }> {
    checkFilterNames(filters, PRUNE_FILTERS);
    const until = untilTime(filters);
    const deleted: string[] = [];
    let spaceReclaimed = 0;
    for (const c of await this.records.configs()) {
      if (until !== undefined && Date.parse(c.created) >= until) continue;
      if (!matchLabels(filters, c.options.labels)) continue;
      const s = await this.records.state(c);
      if (s.status === 'running' || s.status === 'paused') continue;
      spaceReclaimed += (await this.parts.snapshots.usage(c.snapshotKey).catch(() => ({ size: 0 }))).size;
      await this.remove(c.id);
      deleted.push(c.id);
    }
    return { deleted, spaceReclaimed };
  }
}
