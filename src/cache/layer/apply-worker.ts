import { availableParallelism } from 'node:os';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { Worker, isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { TbuildError, type ErrorCode } from '../../errors.js';
import { workerEntry } from '../../util/module-entry.js';
import type { ApplyTarOptions, BlobInfo, LayerDescriptor } from '../types.js';
import type { Digest } from '../../util/digest.js';
import { applyTar } from './apply.js';

/**
 * Extracting a layer (decompressing, hashing, writing files) is work for one core; on the main
 * thread it competes with everything else the process does — the downloads of the other layers
 * of a pull, above all. Here the extraction runs on a worker thread: the main thread only reads
 * the tar stream and posts its chunks. Workers are kept for the life of the process (started on
 * first use, one per layer being extracted at once, up to the number of CPUs) and never keep it
 * alive on their own.
 */

/** Bytes posted and not yet taken by the worker before the reader waits: memory stays bounded. */
const IN_FLIGHT_BYTES = 8 << 20;
/** Bytes of chunks sent to the worker in one message. */
const BATCH_BYTES = 512 << 10;
const MARK = 'tbuild.applyTarWorker';

type ToWorker =
  | { kind: 'job'; id: number; dir: string; opts: ApplyTarOptions }
  | { kind: 'chunk'; id: number; data: Uint8Array[] }
  | { kind: 'end'; id: number }
  | { kind: 'abort'; id: number; message: string };

type SerializedError = { code?: ErrorCode; message: string; details?: Record<string, unknown> };

type FromWorker = { kind: 'taken'; id: number; bytes: number } | { kind: 'done'; id: number; result: LayerDescriptor } | { kind: 'failed'; id: number; error: SerializedError };

// ───────────── main thread ─────────────

interface Job {
  taken(bytes: number): void;
  settle(reply: FromWorker): void;
}

class PooledWorker {
  readonly worker: Worker;
  readonly jobs = new Map<number, Job>();
  #dead: Error | undefined;

  constructor() {
    this.worker = new Worker(workerEntry(import.meta.url, 'cache/layer', 'apply-worker'), { workerData: { [MARK]: true } });
    this.worker.on('message', (m: FromWorker) => {
      const job = this.jobs.get(m.id);
      if (!job) return;
      if (m.kind === 'taken') job.taken(m.bytes);
      else job.settle(m);
    });
    const fail = (err: Error): void => {
      this.#dead ??= err;
      for (const [id, job] of this.jobs) job.settle({ kind: 'failed', id, error: { code: 'TB_INTERNAL', message: `layer extraction worker failed: ${err.message}` } });
      this.jobs.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`exited with code ${code}`)));
    this.idle();
  }

  /** A worker with no job must not keep the process alive; one with a job must. */
  busy(): void {
    this.worker.ref();
  }

  idle(): void {
    if (this.jobs.size === 0) this.worker.unref();
  }

  get usable(): boolean {
    return this.#dead === undefined;
  }
}

const pool: PooledWorker[] = [];
let nextJob = 1;

const poolLimit = (): number => Math.max(1, availableParallelism());

function dropDead(): void {
  for (let i = pool.length - 1; i >= 0; i--) if (!pool[i]!.usable) pool.splice(i, 1);
}

function pickWorker(): PooledWorker {
  dropDead();
  const idle = pool.find((w) => w.jobs.size === 0);
  if (idle) return idle;
  if (pool.length < poolLimit()) {
    const w = new PooledWorker();
    pool.push(w);
    return w;
  }
  return pool.reduce((a, b) => (b.jobs.size < a.jobs.size ? b : a));
}

/**
 * Start the workers `jobs` extractions at once will use, ahead of them: a thread's start (~0.1 s
 * here, its modules loaded) then overlaps what comes first (a pull's manifest and config).
 */
export function warmWorkers(jobs: number): void {
  dropDead();
  while (pool.length < Math.min(jobs, poolLimit())) pool.push(new PooledWorker());
}

/** Worker threads the pool holds now (for tests: proof that a job left this thread). */
export function pooledWorkers(): number {
  return pool.filter((w) => w.usable).length;
}

function revive(e: SerializedError): Error {
  // The worker's TbuildError comes back as one of ours, code and details intact.
  return e.code ? new TbuildError(e.code, e.message, { details: e.details ?? {} }) : new Error(e.message);
}

/** `applyTar`, with the extraction on a worker thread; `tar` is read here. */
export async function applyTarOffThread(tar: Readable | AsyncIterable<Buffer>, dir: string, opts: ApplyTarOptions = {}): Promise<LayerDescriptor> {
  const w = pickWorker();
  const id = nextJob++;
  let inFlight = 0;
  let wake: (() => void) | undefined;
  let settled: FromWorker | undefined;
  const result = new Promise<LayerDescriptor>((resolve, reject) => {
    w.busy();
    w.jobs.set(id, {
      taken(bytes) {
        inFlight -= bytes;
        if (inFlight <= IN_FLIGHT_BYTES) wake?.();
      },
      settle(reply) {
        w.jobs.delete(id);
        w.idle();
        settled = reply;
        wake?.();
        if (reply.kind === 'done') resolve(reply.result);
        else if (reply.kind === 'failed') reject(revive(reply.error));
      },
    });
  });
  // Whoever gives up first (the reader on a stream error, the worker on a refused layer) decides.
  result.catch(() => {});
  const post = (m: ToWorker): void => w.worker.postMessage(m);
  post({ kind: 'job', id, dir, opts: { ...opts, offThread: false } });
  // Chunks go over several to a message: each message wakes the worker (a costly cross-thread
  // wake-up on a virtual machine). A chunk that owns all its memory and that the caller hands
  // over moves as it is; others are joined into one new buffer that moves. Never cloned: a clone
  // copies each chunk's whole backing memory (a socket read's, for a download), and a copy is
  // fresh memory for this thread's collector to account and page in (a pull's downloads run
  // here: every copy spared is a major collection spared).
  let batch: Buffer[] = [];
  let batched = 0;
  const owned = (c: Buffer): boolean => c.byteOffset === 0 && c.byteLength === c.buffer.byteLength && c.buffer instanceof ArrayBuffer;
  const send = (): void => {
    if (!batch.length) return;
    let data: Uint8Array[];
    if (opts.handOver) data = batch.map((c) => (owned(c) ? c : new Uint8Array(c)));
    else {
      // (Buffer.concat of this size allocates memory of its own, never the shared pool)
      const whole = Buffer.concat(batch, batched);
      data = [owned(whole) ? whole : new Uint8Array(whole)];
    }
    inFlight += batched;
    batch = [];
    batched = 0;
    w.worker.postMessage({ kind: 'chunk', id, data } satisfies ToWorker, data.map((d) => d.buffer as ArrayBuffer));
  };
  try {
    for await (const chunk of tar) {
      if (settled) break;
      batch.push(chunk as Buffer);
      batched += (chunk as Buffer).length;
      if (batched < BATCH_BYTES) continue;
      send();
      if (inFlight > IN_FLIGHT_BYTES && !settled) await new Promise<void>((r) => (wake = r));
      wake = undefined;
    }
    if (settled) (tar as Readable).destroy?.();
    else {
      send();
      post({ kind: 'end', id });
    }
  } catch (err) {
    post({ kind: 'abort', id, message: (err as Error).message });
    await result.catch(() => {});
    throw err;
  }
  return result;
}

// ───────────── worker thread ─────────────

/**
 * One job's tar as the worker sees it: chunks as they are posted, each reported once taken. With
 * `digestInput`, every posted byte is hashed as it arrives, whether or not the extraction reads
 * it; `input()` gives the result once the reader has sent them all.
 */
function jobStream(port: MessagePort, id: number, digestInput: boolean): { stream: Readable; feed(m: ToWorker): void; input(): BlobInfo | undefined } {
  const hash = digestInput ? createHash('sha256') : undefined;
  let inputSize = 0;
  let ended = false;
  const queue: Array<Uint8Array[] | null | Error> = [];
  let waiting: (() => void) | undefined;
  async function* chunks(): AsyncGenerator<Buffer> {
    for (;;) {
      if (!queue.length) await new Promise<void>((r) => (waiting = r));
      const next = queue.shift()!;
      if (next === null) return;
      if (next instanceof Error) throw next;
      port.postMessage({ kind: 'taken', id, bytes: next.reduce((n, d) => n + d.length, 0) } satisfies FromWorker);
      for (const d of next) yield Buffer.from(d.buffer, d.byteOffset, d.length);
    }
  }
  const push = (x: Uint8Array[] | null | Error): void => {
    queue.push(x);
    const w = waiting;
    waiting = undefined;
    w?.();
  };
  return {
    stream: Readable.from(chunks(), { objectMode: false }),
    feed(m) {
      if (m.kind === 'chunk') {
        for (const d of m.data) {
          hash?.update(d);
          inputSize += d.length;
        }
        push(m.data);
      } else if (m.kind === 'end') {
        ended = true;
        push(null);
      } else if (m.kind === 'abort') push(new Error(m.message));
    },
    input: () => (hash && ended ? { digest: `sha256:${hash.digest('hex')}` as Digest, size: inputSize } : undefined),
  };
}

function serveJobs(port: MessagePort): void {
  const jobs = new Map<number, (m: ToWorker) => void>();
  port.on('message', (m: ToWorker) => {
    if (m.kind !== 'job') {
      jobs.get(m.id)?.(m);
      return;
    }
    const { stream, feed, input } = jobStream(port, m.id, Boolean(m.opts.digestInput));
    jobs.set(m.id, feed);
    applyTar(stream, m.dir, m.opts).then(
      (layer) => {
        const given = input();
        const result = given ? { ...layer, input: given } : layer;
        port.postMessage({ kind: 'done', id: m.id, result } satisfies FromWorker);
      },
      (err: unknown) => {
        const e = err as Partial<TbuildError>;
        const error: SerializedError = { message: e.message ?? String(err), ...(err instanceof TbuildError ? { code: err.code, details: err.details } : {}) };
        port.postMessage({ kind: 'failed', id: m.id, error } satisfies FromWorker);
      },
    ).finally(() => {
      jobs.delete(m.id);
      stream.destroy();
    });
  });
}

// Only a worker started by the pool above carries the mark (test runners run workers of their own).
if (!isMainThread && parentPort && (workerData as Record<string, unknown> | undefined)?.[MARK]) serveJobs(parentPort);
