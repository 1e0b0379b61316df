import { processStart } from '../util/process.js';
import { existsSync, readFileSync, watch } from 'node:fs';
import { join } from 'node:path';
import { TbuildError } from '../errors.js';
import type { ContainerRuntime } from '../exec/types.js';
import { isMountPoint, unmount } from '../util/mount.js';
import { readHealth } from './health.js';
import type { ContainerRecord, MountPoint } from './types.js';
import type { NetworkManager } from '../network/types.js';
import { containerDir, listIds, readConfig, readState, writeState, type StoredConfig, type StoredState } from './store.js';

/**
 * Container records on disk and their live state: lookups by id, name or prefix, and the state
 * reconciled with reality (a shim that died, a frozen cgroup), so every process that opens the
 * state root, a restarted daemon included, sees the same truth.
 */
/** Docker's lookup among `all`: full id, name (with or without `/`), or a unique id prefix. */
export function matchConfig(all: StoredConfig[], ref: string): StoredConfig | undefined {
  const r = ref.replace(/^\//, '');
  const exact = all.find((c) => c.id === r || c.name === r);
  if (exact) return exact;
  if (!/^[a-f0-9]+$/.test(r)) return undefined;
  const hits = all.filter((c) => c.id.startsWith(r));
  if (hits.length > 1) throw new TbuildError('TB_INVALID_ARGUMENT', `multiple containers found with provided prefix: ${r}`);
  return hits[0];
}

/** Docker's `.Mounts` from the resolved runtime mounts (volumes are the ones under `<root>/volumes`). */
function mountPointsOf(root: string, c: StoredConfig): MountPoint[] {
  const volumes = join(root, 'volumes') + '/';
  const out: MountPoint[] = [];
  for (const m of c.runtime.mounts) {
    if (m.type !== 'bind') continue;
    const ro = m.options.includes('ro');
    const spec = c.options.mounts?.find((s) => s.target === m.destination);
    if (m.source.startsWith(volumes)) {
      const name = m.source.slice(volumes.length).split('/')[0]!;
      const named = spec?.type === 'volume' && spec.source !== '';
      out.push({ type: 'volume', name, source: m.source, destination: m.destination, mode: ro ? 'ro' : named ? 'z' : '', rw: !ro, propagation: '' });
    } else {
      const propagation = m.options.find((o) => /^r?(private|shared|slave)$/.test(o)) ?? 'rprivate';
      out.push({ type: 'bind', source: m.source, destination: m.destination, mode: ro ? 'ro' : '', rw: !ro, propagation });
    }
  }
  return out;
}

export class ContainerRecords {
  readonly #root: string;
  readonly #control: ContainerRuntime;
  readonly #network: NetworkManager | undefined;
  /** Set by the manager's close(): background waits give up. */
  closed = false;

  constructor(root: string, control: ContainerRuntime, network?: NetworkManager) {
    this.#root = root;
    this.#control = control;
    this.#network = network;
  }

  /** Ids of the containers that mount volume `name` (the volume store refuses to remove those). */
  async volumeUsers(name: string): Promise<string[]> {
    return (await this.configs()).filter((c) => c.runtime.volumes.includes(name)).map((c) => c.id);
  }

  /** A container made from image `imageId`, and whether it runs (rmi's conflict rules need both). */
  async imageUser(imageId: string): Promise<{ container: string; running: boolean } | undefined> {
    for (const c of await this.configs()) {
      if (c.imageId !== imageId) continue;
      const s = await this.state(c);
      return { container: c.id, running: s.status === 'running' || s.status === 'paused' };
    }
    return undefined;
  }

  async configs(): Promise<StoredConfig[]> {
    const out: StoredConfig[] = [];
    for (const id of await listIds(this.#root)) {
      const c = await readConfig(this.#root, id);
      if (c) out.push(c);
    }
    return out;
  }

  /** Full id, name (with or without `/`), or unique id prefix → config. */
  async find(ref: string): Promise<StoredConfig | undefined> {
    const r = ref.replace(/^\//, '');
    if (/^[a-f0-9]{64}$/.test(r)) {
      const c = await readConfig(this.#root, r);
      if (c) return c;
    }
    return matchConfig(await this.configs(), r);
  }

  async must(ref: string): Promise<StoredConfig> {
    const c = await this.find(ref);
    if (!c) throw new TbuildError('TB_CONTAINER_NOT_FOUND', `No such container: ${ref}`);
    return c;
  }

  /** The state as recorded, corrected for a shim that is gone and for a frozen cgroup. */
  async state(c: StoredConfig): Promise<StoredState> {
    const s = await readState(this.#root, c.id);
    if (!isLive(s.status)) return s;
    if (s.shimPid && shimAlive(s.shimPid, c.id, s.shimStart)) {
      if (s.status === 'restarting') return s;
      return { ...s, status: frozen(c.id) ? 'paused' : 'running' };
    }
    // The shim may have recorded the exit and gone between our read and the liveness check.
    const again = await readState(this.#root, c.id);
    if (!isLive(again.status)) return again;
    // The shim died without recording an exit (killed, machine crash): reconcile with runc.
    const rs = await this.#control.state(c.id).catch(() => undefined);
    if (rs && (rs.status === 'running' || rs.status === 'paused')) return { ...s, status: rs.status as 'running' | 'paused' };
    const fixed: StoredState = { ...s, status: 'exited', pid: 0, exitCode: s.exitCode || 255, error: 'container monitor exited unexpectedly', finishedAt: new Date().toISOString() };
    await this.release(c.id);
    await writeState(this.#root, c.id, fixed);
    return fixed;
  }

  async record(c: StoredConfig): Promise<ContainerRecord> {
    const { runtime: _rt, ...rest } = c;
    const s = await this.state(c);
    const { shimPid: _p, shimStart: _s, errorCode: _e, ...state } = s;
    const live = s.status === 'running' || s.status === 'paused' || s.status === 'restarting';
    const net = live && c.runtime.attach ? await this.#network?.status(c.id).catch(() => undefined) : undefined;
    const health = c.runtime.healthcheck ? await readHealth(this.#root, c.id) : undefined;
    return { ...rest, state, mountPoints: mountPointsOf(this.#root, c), ...(health ? { health } : {}), ...(net ? { network: { endpoints: net.endpoints, ports: net.ports, netnsPath: net.netnsPath } } : {}) };
  }

  /** Whatever a dead container might still hold: runc state, the rootfs mount. */
  async release(id: string): Promise<void> {
    // A shim that finished normally has had runc delete its state already: spare the spawn.
    if (existsSync(join(this.#root, 'runc', id))) await this.#control.runtimeCommand(['delete', '--force', id]).catch(() => {});
    const rootfs = join(containerDir(this.#root, id), 'rootfs');
    if (isMountPoint(rootfs)) await unmount(rootfs).catch(() => {});
  }

  /**
   * Resolve with the state once `pred` holds. Event-driven: the container dir is watched (state.json
   * is replaced by rename) *before* each read, so a change between the read and the wait is never
   * missed; a slow timer only covers what inotify cannot see (a shim dying without a word).
   * `background` loops stop once `closed` is set, and keep nothing referenced.
   */
  async until(c: StoredConfig, pred: (s: StoredState) => boolean, background = false): Promise<StoredState> {
    const dir = containerDir(this.#root, c.id);
    for (;;) {
      let wake!: () => void;
      const changed = new Promise<void>((r) => (wake = r));
      let w: ReturnType<typeof watch> | undefined;
      try {
        w = watch(dir, () => wake());
        w.on('error', () => wake());
        if (background) w.unref();
      } catch {
        // the dir is gone (checked below) or inotify is exhausted: polling only
      }
      const t = setTimeout(() => wake(), w ? 250 : 50);
      if (background) t.unref();
      try {
        if (!existsSync(dir)) throw new TbuildError('TB_CONTAINER_NOT_FOUND', `No such container: ${c.id}`);
        const s = await this.state(c);
        if (pred(s)) return s;
        if (background && this.closed) throw new TbuildError('TB_CONTAINER_STATE', 'manager closed');
        await changed;
      } finally {
        clearTimeout(t);
        w?.close();
      }
    }
  }
}

/** A shim is responsible for the container: running, paused, or between policy restarts. */
export function isLive(status: string): boolean {
  return status === 'running' || status === 'paused' || status === 'restarting';
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The shim pid is alive and still our shim for this container (not a reused pid): its recorded
 * start time matches, or (records without one) its command line names the container.
 */
export function shimAlive(pid: number, id: string, start?: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (start) return processStart(pid) === start;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(id);
  } catch {
    return false;
  }
}


export function frozen(id: string): boolean {
  for (const f of [`/sys/fs/cgroup/freezer/tbuild/${id}/freezer.state`, `/sys/fs/cgroup/tbuild/${id}/cgroup.freeze`]) {
    try {
      const v = readFileSync(f, 'utf8').trim();
      return v === 'FROZEN' || v === 'FREEZING' || v === '1';
    } catch {
      // try the next layout
    }
  }
  return false;
}
