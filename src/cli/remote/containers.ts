import { filtersQuery, type Filters } from '../../util/filters.js';
import type { Readable } from 'node:stream';
import type {
  AttachStreams,
  ContainerEvent,
  ContainerManager,
  ContainerRecord,
  CreateContainerOptions,
  ExecOptions,
  ExecStreams,
  ContainerUpdate,
  StatsSample,
  LogEntry,
  LogOptions,
  WaitCondition,
} from '../../containers/types.js';
import { TbuildError, isTbuildError } from '../../errors.js';
import type { TtySize } from '../../exec/types.js';
import type { EngineClient } from './client.js';
import { pumpHijacked, demuxStream } from './streams.js';

import { containerFromApi, createBody, unixMode, type Json } from './container-shapes.js';

/** A `run` in flight: the wait registered before start, and the attach stream still draining. */
interface Session {
  exited: Promise<{ exitCode: number }>;
  output: Promise<void>;
}

/** How long output may keep arriving after the daemon reports the exit. */
const DRAIN_MS = 5000;

export class RemoteContainers implements ContainerManager {
  readonly #client: EngineClient;
  readonly #sessions = new Map<string, Session>();

  constructor(client: EngineClient) {
    this.#client = client;
  }

  #path(id: string, verb = ''): string {
    return `/containers/${encodeURIComponent(id)}${verb ? `/${verb}` : ''}`;
  }

  async create(opts: CreateContainerOptions): Promise<ContainerRecord> {
    const res = await this.#client.json<{ Id: string }>('POST', '/containers/create', {
      query: { name: opts.name, platform: opts.platform },
      body: createBody(opts),
    });
    return this.inspect(res.Id);
  }

  async start(idOrName: string, io?: AttachStreams): Promise<void> {
    if (!io || (!io.stdout && !io.stderr && !io.stdin)) {
      await this.#client.call('POST', this.#path(idOrName, 'start'));
      return;
    }
    // Docker's `run`: attach first (the daemon parks it until start), register the wait, then start,
    // so neither the first byte of output nor a fast exit is missed.
    const c = await this.inspect(idOrName);
    const conn = await this.#client.hijack('POST', this.#path(c.id, 'attach'), {
      query: { stream: true, stdout: Boolean(io.stdout), stderr: Boolean(io.stderr), stdin: Boolean(io.stdin) },
    });
    const output = pumpHijacked(conn, io);
    const exited = this.#waitRequest(c.id, 'next-exit');
    // Keep a failed start from leaving an unhandled rejection behind.
    exited.catch(() => {});
    try {
      await exited.registered;
      await this.#client.call('POST', this.#path(c.id, 'start'));
    } catch (err) {
      conn.socket.destroy();
      throw err;
    }
    // `run` waits by id, `start -a NAME` by the name it was given.
    const session = { exited: exited.result, output };
    this.#sessions.set(c.id, session);
    this.#sessions.set(idOrName, session);
  }

  /** POST wait; `registered` settles once the daemon has answered the headers (the wait is armed). */
  #waitRequest(id: string, condition: WaitCondition): { registered: Promise<void>; result: Promise<{ exitCode: number }>; catch(f: () => void): void } {
    const res = this.#client.request('POST', this.#path(id, 'wait'), { query: { condition } });
    const result = res.then(async (r) => {
      const chunks: Buffer[] = [];
      for await (const c of r as AsyncIterable<Buffer>) chunks.push(c);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { StatusCode?: number; Error?: { Message?: string } | null };
      if (body.Error?.Message) throw new TbuildError('TB_CONTAINER_STATE', body.Error.Message);
      return { exitCode: Number(body.StatusCode ?? -1) };
    });
    return {
      registered: res.then(() => undefined),
      result,
      catch: (f) => {
        res.catch(f);
        result.catch(f);
      },
    };
  }

  async attach(idOrName: string, io: AttachStreams): Promise<void> {
    const conn = await this.#client.hijack('POST', this.#path(idOrName, 'attach'), {
      query: { stream: true, stdout: Boolean(io.stdout), stderr: Boolean(io.stderr), stdin: Boolean(io.stdin) },
    });
    await pumpHijacked(conn, io);
  }

  async wait(idOrName: string, condition: WaitCondition = 'not-running'): Promise<{ exitCode: number }> {
    const session = this.#sessions.get(idOrName);
    if (session) {
      for (const [k, v] of this.#sessions) if (v === session) this.#sessions.delete(k);
      const r = await session.exited;
      await Promise.race([session.output, new Promise((res) => setTimeout(res, DRAIN_MS).unref())]);
      return r;
    }
    const w = this.#waitRequest(idOrName, condition);
    return w.result;
  }

  async stop(idOrName: string, timeoutSeconds?: number, signal?: string): Promise<void> {
    await this.#client.call('POST', this.#path(idOrName, 'stop'), { query: { t: timeoutSeconds, signal } });
  }

  async kill(idOrName: string, signal?: string): Promise<void> {
    await this.#client.call('POST', this.#path(idOrName, 'kill'), { query: { signal } });
  }

  async restart(idOrName: string, timeoutSeconds?: number, signal?: string): Promise<void> {
    await this.#client.call('POST', this.#path(idOrName, 'restart'), { query: { t: timeoutSeconds, signal } });
  }

  async pause(idOrName: string): Promise<void> {
    await this.#client.call('POST', this.#path(idOrName, 'pause'));
  }

  async unpause(idOrName: string): Promise<void> {
    await this.#client.call('POST', this.#path(idOrName, 'unpause'));
  }

  async remove(idOrName: string, opts: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    await this.#client.call('DELETE', this.#path(idOrName), { query: { force: opts.force || undefined, v: opts.volumes || undefined } });
  }

  async rename(idOrName: string, newName: string): Promise<void> {
    await this.#client.call('POST', this.#path(idOrName, 'rename'), { query: { name: newName } });
  }

  async connectNetwork(idOrName: string, network: string, opts: { aliases?: string[]; ip?: string } = {}): Promise<void> {
    const EndpointConfig = { ...(opts.aliases?.length ? { Aliases: opts.aliases } : {}), ...(opts.ip ? { IPAMConfig: { IPv4Address: opts.ip } } : {}) };
    await this.#client.call('POST', `/networks/${encodeURIComponent(network)}/connect`, { body: { Container: idOrName, EndpointConfig } });
  }

  async disconnectNetwork(idOrName: string, network: string): Promise<void> {
    await this.#client.call('POST', `/networks/${encodeURIComponent(network)}/disconnect`, { body: { Container: idOrName } });
  }

  async get(idOrName: string): Promise<ContainerRecord | undefined> {
    try {
      return await this.inspect(idOrName);
    } catch (err) {
      if (isTbuildError(err, 'TB_CONTAINER_NOT_FOUND')) return undefined;
      throw err;
    }
  }

  async inspect(idOrName: string): Promise<ContainerRecord> {
    return containerFromApi(await this.#client.json<Json>('GET', this.#path(idOrName, 'json')));
  }

  async list(opts: { all?: boolean } = {}): Promise<ContainerRecord[]> {
    const summaries = (await this.#client.json<Array<{ Id: string }>>('GET', '/containers/json', { query: { all: opts.all || undefined } })) ?? [];
    const out: ContainerRecord[] = [];
    for (let i = 0; i < summaries.length; i += 8) {
      // A container removed between the list and its inspect is simply gone.
      const batch = await Promise.all(summaries.slice(i, i + 8).map((s) => this.get(s.Id)));
      for (const c of batch) if (c) out.push(c);
    }
    return out;
  }

  async *logs(idOrName: string, opts: LogOptions): AsyncIterable<LogEntry> {
    const res = await this.#client.request('GET', this.#path(idOrName, 'logs'), {
      query: {
        stdout: opts.stdout ?? true,
        stderr: opts.stderr ?? true,
        follow: opts.follow || undefined,
        tail: opts.tail === undefined ? undefined : String(opts.tail),
        // Always asked for: each entry's time is cut back off the front of its line.
        timestamps: true,
        since: opts.since === undefined ? undefined : Math.floor(opts.since),
        until: opts.until === undefined ? undefined : Math.floor(opts.until),
      },
    });
    const multiplexed = String(res.headers['content-type'] ?? '').includes('multiplexed');
    for await (const chunk of demuxStream(res, multiplexed)) {
      const sp = chunk.text.indexOf(' ');
      yield sp > 0 ? { stream: chunk.stream, time: chunk.text.slice(0, sp), log: chunk.text.slice(sp + 1) } : { stream: chunk.stream, time: '', log: chunk.text };
    }
  }

  async top(idOrName: string, psArgs?: string): Promise<{ titles: string[]; processes: string[][] }> {
    const t = await this.#client.json<{ Titles: string[]; Processes: string[][] }>('GET', this.#path(idOrName, 'top'), { query: { ps_args: psArgs } });
    return { titles: t.Titles ?? [], processes: t.Processes ?? [] };
  }

  async changes(idOrName: string): Promise<Array<{ Path: string; Kind: 0 | 1 | 2 }>> {
    return (await this.#client.json<Array<{ Path: string; Kind: 0 | 1 | 2 }> | null>('GET', this.#path(idOrName, 'changes'))) ?? [];
  }

  async export(idOrName: string): Promise<Readable> {
    return this.#client.request('GET', this.#path(idOrName, 'export'));
  }

  async getArchive(idOrName: string, path: string): Promise<{ tar: Readable; stat: { name: string; size: number; mode: number; mtime: string; linkTarget: string } }> {
    const res = await this.#client.request('GET', this.#path(idOrName, 'archive'), { query: { path } });
    const header = String(res.headers['x-docker-container-path-stat'] ?? '');
    const raw = header ? (JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as { name: string; size: number; mode: number; mtime: string; linkTarget: string }) : undefined;
    const stat = raw ? { ...raw, mode: unixMode(raw.mode) } : { name: path, size: 0, mode: 0, mtime: '', linkTarget: '' };
    return { tar: res, stat };
  }

  async putArchive(idOrName: string, path: string, tar: Readable, opts: { noOverwriteDirNonDir?: boolean } = {}): Promise<void> {
    await this.#client.call('PUT', this.#path(idOrName, 'archive'), { query: { path, ...(opts.noOverwriteDirNonDir ? { noOverwriteDirNonDir: true } : {}) }, body: tar, headers: { 'Content-Type': 'application/x-tar' } });
  }

  async stats(idOrName: string): Promise<StatsSample> {
    return this.#client.json<StatsSample>('GET', this.#path(idOrName, 'stats'), { query: { stream: false, 'one-shot': true } });
  }

  async update(idOrName: string, changes: ContainerUpdate): Promise<void> {
    const r = changes.resources ?? {};
    await this.#client.json('POST', this.#path(idOrName, 'update'), {
      body: {
        ...(r.memory ? { Memory: r.memory } : {}),
        ...(r.memorySwap ? { MemorySwap: r.memorySwap } : {}),
        ...(r.cpuQuota ? { CpuQuota: r.cpuQuota } : {}),
        ...(r.cpuPeriod ? { CpuPeriod: r.cpuPeriod } : {}),
        ...(r.cpuShares ? { CpuShares: r.cpuShares } : {}),
        ...(r.pidsLimit ? { PidsLimit: r.pidsLimit } : {}),
        ...(changes.restartPolicy ? { RestartPolicy: { Name: changes.restartPolicy.name, MaximumRetryCount: changes.restartPolicy.maximumRetryCount ?? 0 } } : {}),
      },
    });
  }

  async resize(idOrName: string, size: TtySize): Promise<void> {
    await this.#client.call('POST', this.#path(idOrName, 'resize'), { query: { h: size.height, w: size.width } });
  }

  async exec(idOrName: string, opts: ExecOptions, io: ExecStreams): Promise<{ exitCode: number }> {
    const { Id } = await this.#client.json<{ Id: string }>('POST', this.#path(idOrName, 'exec'), {
      body: {
        Cmd: opts.cmd,
        ...(opts.env?.length ? { Env: opts.env } : {}),
        ...(opts.workingDir ? { WorkingDir: opts.workingDir } : {}),
        ...(opts.user ? { User: opts.user } : {}),
        Tty: Boolean(opts.tty),
        AttachStdin: Boolean(opts.attachStdin && io.stdin),
        AttachStdout: true,
        AttachStderr: true,
      },
    });
    const conn = await this.#client.hijack('POST', `/exec/${encodeURIComponent(Id)}/start`, {
      body: { Detach: false, Tty: Boolean(opts.tty), ...(opts.consoleSize ? { ConsoleSize: [opts.consoleSize.height, opts.consoleSize.width] } : {}) },
    });
    io.started?.({
      pid: 0,
      resize: async (size) => void (await this.#client.call('POST', `/exec/${encodeURIComponent(Id)}/resize`, { query: { h: size.height, w: size.width } })),
    });
    await pumpHijacked(conn, opts.attachStdin ? io : { ...io, stdin: undefined });
    const info = await this.#client.json<{ ExitCode: number | null }>('GET', `/exec/${encodeURIComponent(Id)}/json`);
    return { exitCode: info.ExitCode ?? 126 };
  }

  async prune(filters?: Filters): Promise<{ deleted: string[]; spaceReclaimed: number }> {
    const r = await this.#client.json<{ ContainersDeleted: string[] | null; SpaceReclaimed: number }>('POST', '/containers/prune', { query: { filters: filtersQuery(filters) } });
    return { deleted: r.ContainersDeleted ?? [], spaceReclaimed: r.SpaceReclaimed ?? 0 };
  }

  on(_event: 'event', _listener: (e: ContainerEvent) => void): void {
    // The CLI never listens; the daemon publishes its events on GET /events.
  }

  async close(): Promise<void> {
    this.#sessions.clear();
  }
}
