import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { TbuildError } from '../errors.js';
import type { ContainerRuntime, TtySize } from '../exec/types.js';
import { Freezer } from '../exec/security/freeze.js';
import type { ContainerDeps, ContainerManager, ContainerRecord, ContainerUpdate, LogEntry, LogOptions, StatsSample } from './types.js';
import { updateContainer } from './update.js';
import { ContainerRecords, isLive } from './records.js';
import { readJsonLog } from './logs.js';
import { containerChanges, containerExport, getArchive, putArchive } from './fs.js';
import { emptySample, sampleStats } from './stats.js';
import { topOfContainer } from './exec.js';
import { containerDir, writeConfig, type StoredConfig } from './store.js';
import { clearFrozen, markFrozen } from './frozen-by.js';

/**
 * What is read from containers, and done to them without changing their lifecycle: records,
 * logs, processes, files, counters, the terminal size. The manager (manager.ts) adds the
 * lifecycle and events on top; both work on the same records.
 */
export abstract class ContainerQueries {
  protected readonly parts: ContainerDeps;
  protected readonly root: string;
  protected readonly control: ContainerRuntime;
  protected readonly records: ContainerRecords;
  readonly #freezer: Freezer;

  constructor(parts: ContainerDeps) {
    this.parts = parts;
    this.root = parts.root;
    this.control = parts.runtime;
    this.records = new ContainerRecords(parts.root, parts.runtime, parts.network);
    this.#freezer = new Freezer((args) => this.control.runtimeCommand(args), {
      frozen: (id) => markFrozen(this.root, id),
      thawed: (id) => clearFrozen(this.root, id),
    });
  }

  async get(ref: string): Promise<ContainerRecord | undefined> {
    const c = await this.records.find(ref);
    return c ? this.records.record(c) : undefined;
  }

  async inspect(ref: string): Promise<ContainerRecord> {
    return this.records.record(await this.records.must(ref));
  }

  async list(opts: { all?: boolean } = {}): Promise<ContainerRecord[]> {
    const out: ContainerRecord[] = [];
    for (const c of await this.records.configs()) {
      const r = await this.records.record(c);
      if (opts.all || r.state.status === 'running' || r.state.status === 'paused') out.push(r);
    }
    return out.sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : 0));
  }

  async *logs(ref: string, opts: LogOptions): AsyncIterable<LogEntry> {
    const c = await this.records.must(ref);
    const running = async () => {
      if (!existsSync(containerDir(this.root, c.id))) return false;
      const s = await this.records.state(c);
      return isLive(s.status) || (s.status === 'created' && existsSync(join(containerDir(this.root, c.id), 'start.json')));
    };
    yield* readJsonLog(c.logPath, opts, running);
  }

  async top(ref: string, psArgs = '-ef'): Promise<{ titles: string[]; processes: string[][] }> {
    const c = await this.records.must(ref);
    return topOfContainer(this.control, c, await this.records.state(c), psArgs);
  }

  async changes(ref: string): Promise<Array<{ Path: string; Kind: 0 | 1 | 2 }>> {
    const c = await this.records.must(ref);
    return containerChanges(this.parts.snapshots, c.snapshotKey);
  }

  /** A running container stays frozen until its tar is read to the end (or dropped), as for a copy. */
  async export(ref: string): Promise<Readable> {
    const c = await this.records.must(ref);
    const release = await this.#hold(c);
    try {
      const tar = await containerExport(this.parts, c.snapshotKey, join(containerDir(this.root, c.id), 'rootfs'));
      let released = false;
      const done = (): void => {
        if (released) return;
        released = true;
        void release();
      };
      tar.once('end', done);
      tar.once('close', done);
      tar.once('error', done);
      return tar;
    } catch (err) {
      await release();
      throw err;
    }
  }

  /** Freeze a running container for a copy (see exec/security/freeze.ts). */
  #hold(c: StoredConfig): Promise<() => Promise<void>> {
    return this.#freezer.hold(c.id, async () => (await this.records.state(c)).status === 'running');
  }

  async getArchive(ref: string, path: string): ReturnType<ContainerManager['getArchive']> {
    const c = await this.records.must(ref);
    const release = await this.#hold(c);
    try {
      const r = await getArchive(this.parts, c.snapshotKey, join(containerDir(this.root, c.id), 'rootfs'), path, ref);
      void r.done.finally(release);
      return { tar: r.tar, stat: r.stat };
    } catch (err) {
      await release();
      throw err;
    }
  }

  async putArchive(ref: string, path: string, tar: Readable, opts: { noOverwriteDirNonDir?: boolean } = {}): Promise<void> {
    const c = await this.records.must(ref);
    const release = await this.#hold(c);
    try {
      await putArchive(this.parts, c.snapshotKey, join(containerDir(this.root, c.id), 'rootfs'), path, tar, ref, opts);
    } finally {
      await release();
    }
  }

  async stats(ref: string): Promise<StatsSample> {
    const c = await this.records.must(ref);
    const s = await this.records.state(c);
    return s.status === 'running' || s.status === 'paused' ? sampleStats(s.pid) : emptySample();
  }

  async update(ref: string, changes: ContainerUpdate): Promise<void> {
    const c = await this.records.must(ref);
    await writeConfig(this.root, await updateContainer(this.control, c, await this.records.state(c), changes));
  }

  async resize(ref: string, size: TtySize): Promise<void> {
    const c = await this.records.must(ref);
    const s = await this.records.state(c);
    if (s.status !== 'running' && s.status !== 'paused') throw new TbuildError('TB_CONTAINER_STATE', `Container ${c.id} is not running`);
    if (!c.runtime.tty) throw new TbuildError('TB_CONTAINER_STATE', `Container ${c.id} has no tty to resize (created without -t)`);
    await this.control.resizeTty(s.pid, size);
  }
}
