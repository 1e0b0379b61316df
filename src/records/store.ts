import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { TbuildError } from '../errors.js';
import { writeJsonReplace } from '../util/atomic.js';
import type { ProgressEvent } from '../solver/types.js';
import { EventEmitter } from 'node:events';
import type { BuildRecord, BuildRecordEvent, BuildRecorder, BuildRecords, BuildRecordSummary, StepDebugState, StepRecord } from './types.js';

/** Retention: the newest 100 builds, or those of the last 30 days, whichever keeps more. */
export const DEFAULT_KEEP = 100;
export const DEFAULT_MAX_AGE_MS = 30 * 24 * 3600 * 1000;

/**
 * `<root>/builds/<id>/record.json` (replaced as steps end, so a crash leaves the last consistent
 * view; not fsynced: a record is worth no disk flush on every build's path) and `logs/<step>.log`
 * (appended as output arrives, whole).
 */
export class BuildRecordStore implements BuildRecords {
  readonly #dir: string;
  readonly #retention: { keep: number; maxAgeMs: number };
  readonly #events = new EventEmitter().setMaxListeners(0);

  constructor(root: string, retention: { keep?: number; maxAgeMs?: number } = {}) {
    this.#dir = join(root, 'builds');
    this.#retention = { keep: retention.keep ?? DEFAULT_KEEP, maxAgeMs: retention.maxAgeMs ?? DEFAULT_MAX_AGE_MS };
  }

  watch(listener: (e: BuildRecordEvent) => void): () => void {
    this.#events.on('record', listener);
    return () => this.#events.off('record', listener);
  }

  #emit(type: BuildRecordEvent['type'], id: string): void {
    this.#events.emit('record', { type, id } satisfies BuildRecordEvent);
  }

  async start(meta: { dockerfile: string; dockerfileText?: string; target?: string; args: Record<string, string>; tags: string[]; ref?: string }): Promise<BuildRecorder> {
    // time-ordered ids: a listing sorts by name
    const id = `${Date.now().toString(36).padStart(9, '0')}${randomBytes(6).toString('hex')}`;
    const dir = join(this.#dir, id);
    await mkdir(join(dir, 'logs'), { recursive: true });
    const record: BuildRecord = {
      id,
      ...(meta.ref ? { ref: meta.ref } : {}),
      startedAt: new Date().toISOString(),
      status: 'running',
      dockerfile: { name: meta.dockerfile, ...(meta.dockerfileText !== undefined ? { digest: `sha256:${createHash('sha256').update(meta.dockerfileText).digest('hex')}` } : {}) },
      ...(meta.target ? { target: meta.target } : {}),
      args: meta.args,
      tags: meta.tags,
      steps: [],
    };
    await writeJsonReplace(join(dir, 'record.json'), record);
    void this.prune().catch(() => {});
    this.#emit('started', id);
    return new Recorder(dir, record, () => this.#emit('completed', id));
  }

  async #ids(): Promise<string[]> {
    return (await readdir(this.#dir).catch(() => [] as string[])).filter((n) => /^[0-9a-z]{21}$/.test(n)).sort().reverse();
  }

  async #resolve(ref: string): Promise<string> {
    const ids = await this.#ids();
    const id = ref === 'last' ? ids[0] : ids.find((i) => i === ref) ?? (ref.length >= 6 ? singlePrefix(ids, ref) : undefined);
    if (!id) throw new TbuildError('TB_BUILD_RECORD_NOT_FOUND', ref === 'last' ? 'no build recorded yet' : `no such build: ${ref}`);
    return id;
  }

  async list(): Promise<BuildRecordSummary[]> {
    const ids = await this.#ids();
    const records: Array<BuildRecord | undefined> = new Array(ids.length);
    // reads in parallel, a bounded number at a time: a thousand records list in well under a second
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < ids.length; i = next++) records[i] = await this.#read(ids[i]!).catch(() => undefined);
    };
    await Promise.all(Array.from({ length: Math.min(32, ids.length) }, worker));
    return records
      .filter((r): r is BuildRecord => r !== undefined)
      .map((r) => ({
        id: r.id,
        startedAt: r.startedAt,
        ...(r.durationMs !== undefined ? { durationMs: r.durationMs } : {}),
        status: r.status,
        ...(r.result ? { result: r.result.imageId } : {}),
        stepsCached: r.steps.filter((s) => s.cached).length,
        stepsTotal: r.steps.length,
      }));
  }

  async #read(id: string): Promise<BuildRecord> {
    return JSON.parse(await readFile(join(this.#dir, id, 'record.json'), 'utf8')) as BuildRecord;
  }

  async get(ref: string): Promise<BuildRecord> {
    return this.#read(await this.#resolve(ref));
  }

  async logs(ref: string, step?: number): Promise<Readable> {
    const id = await this.#resolve(ref);
    const r = await this.#read(id);
    if (step !== undefined) {
      const s = r.steps.find((x) => x.index === step);
      if (!s) throw new TbuildError('TB_BUILD_RECORD_NOT_FOUND', `build ${id} has no step ${step} (it has ${r.steps.length})`);
      if (!s.logBytes) return Readable.from([]);
      return logStream(join(this.#dir, id, 'logs', `${step}.log`));
    }
    const out = new PassThrough();
    void (async () => {
      for (const s of r.steps) {
        if (!s.logBytes) continue;
        for await (const chunk of logStream(join(this.#dir, id, 'logs', `${s.index}.log`))) if (!out.write(chunk)) await new Promise((res) => out.once('drain', res));
      }
      out.end();
    })().catch((err: unknown) => out.destroy(err as Error));
    return out;
  }

  async remove(ref: string): Promise<void> {
    const id = await this.#resolve(ref);
    await rm(join(this.#dir, id), { recursive: true, force: true });
    this.#emit('deleted', id);
  }

  async prune(opts: { keep?: number; maxAgeMs?: number; all?: boolean } = {}): Promise<string[]> {
    const keep = opts.all ? 0 : (opts.keep ?? this.#retention.keep);
    const maxAge = opts.all ? 0 : (opts.maxAgeMs ?? this.#retention.maxAgeMs);
    const removed: string[] = [];
    const now = Date.now();
    for (const [i, id] of (await this.#ids()).entries()) {
      if (i < keep) continue;
      const started = parseInt(id.slice(0, 9), 36);
      if (now - started < maxAge) continue;
      const r = await this.#read(id).catch(() => undefined);
      if (r?.status === 'running' && !opts.all) continue;
      await rm(join(this.#dir, id), { recursive: true, force: true });
      removed.push(id);
      this.#emit('deleted', id);
    }
    return removed;
  }
}

function singlePrefix(ids: string[], ref: string): string | undefined {
  const hits = ids.filter((i) => i.startsWith(ref));
  return hits.length === 1 ? hits[0] : undefined;
}

function logStream(path: string): Readable {
  return createReadStream(path).on('error', () => {});
}

/** Follows one build's progress into its record and log files. */
class Recorder implements BuildRecorder {
  readonly id: string;
  readonly #dir: string;
  readonly #record: BuildRecord;
  readonly #steps = new Map<string, StepRecord>();
  readonly #logs = new Map<number, WriteStream>();
  /** The write in progress, if any; `#dirty` asks it for one more with what changed meanwhile. */
  #writing: Promise<void> | undefined;
  #dirty = false;
  readonly #finished: () => void;

  constructor(dir: string, record: BuildRecord, finished: () => void) {
    this.#dir = dir;
    this.#record = record;
    this.id = record.id;
    this.#finished = finished;
  }

  #step(vertex: string, name: string): StepRecord {
    let s = this.#steps.get(vertex);
    if (!s) {
      s = { index: this.#steps.size + 1, vertex, name, cached: false, logBytes: 0 };
      this.#steps.set(vertex, s);
      this.#record.steps.push(s);
    }
    return s;
  }

  /**
   * Write the record as it is now. Steps that complete while a write is under way make one more
   * write after it, not one each: a cached build's twenty steps complete in the same millisecond.
   */
  #save(): void {
    this.#dirty = true;
    if (this.#writing) return;
    this.#writing = (async () => {
      while (this.#dirty) {
        this.#dirty = false;
        const snapshot = JSON.parse(JSON.stringify(this.#record)) as BuildRecord;
        await writeJsonReplace(join(this.#dir, 'record.json'), snapshot).catch(() => {});
      }
    })().finally(() => (this.#writing = undefined));
  }

  dockerfile(text: string): void {
    if (this.#record.dockerfile.digest) return;
    this.#record.dockerfile.digest = `sha256:${createHash('sha256').update(text).digest('hex')}`;
    this.#save();
  }

  event(e: ProgressEvent): void {
    if (e.type === 'vertex') {
      const v = e.vertex;
      const s = this.#step(v.id, v.name);
      s.name = v.name;
      if (v.inputs.length && !s.inputs) s.inputs = [...v.inputs];
      if (v.cached) s.cached = true;
      if (v.reason) s.reason = v.reason;
      if (v.started && !s.startedAt) s.startedAt = new Date(v.started).toISOString();
      if (v.error) s.error = v.error;
      if (v.debug) s.debug = v.debug as unknown as StepDebugState;
      if (v.completed && !s.completedAt) {
        s.completedAt = new Date(v.completed).toISOString();
        if (v.started) s.durationMs = v.completed - v.started;
        this.#save();
      }
    } else if (e.type === 'warning') {
      this.#record.warnings = (this.#record.warnings ?? 0) + 1;
    } else if (e.type === 'log') {
      const s = this.#steps.get(e.vertex);
      if (!s) return;
      let w = this.#logs.get(s.index);
      if (!w) {
        w = createWriteStream(join(this.#dir, 'logs', `${s.index}.log`), { flags: 'a' });
        w.on('error', () => {});
        this.#logs.set(s.index, w);
      }
      w.write(e.data);
      s.logBytes += e.data.byteLength;
    }
  }

  async finish(outcome: { result?: { imageId: string; digest: string }; error?: Error }): Promise<void> {
    await Promise.all([...this.#logs.values()].map((w) => new Promise<void>((res) => w.end(() => res()))));
    const ended = Date.now();
    this.#record.endedAt = new Date(ended).toISOString();
    this.#record.durationMs = ended - Date.parse(this.#record.startedAt);
    this.#record.status = outcome.error ? 'failed' : 'completed';
    if (outcome.result) this.#record.result = outcome.result;
    if (outcome.error) this.#record.error = outcome.error.message;
    this.#save();
    await this.#writing;
    this.#finished();
  }
}
