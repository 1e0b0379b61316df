import { cacheSpecFromAttrs, parseCacheTo } from '../remotecache/spec.js';
import type { CacheExportSpec, CacheImportSpec } from '../remotecache/types.js';
import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type ConnectRouter, type HandlerContext, type Interceptor, type ServiceImpl } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { TbuildError } from '../errors.js';
import { BuildJobs } from './build-jobs.js';
import { byteStreamDuplex, Channel } from './channel.js';
import { listenBuildkit, type BuildkitListenerTls } from './listener.js';
import { toConnectError } from './errors.js';
import { isTraceParent } from '../util/trace.js';
import { listenBuildHistory, updateBuildHistory } from './history.js';
import { type BuildHistoryRequest, BytesMessageSchema, Control, type SolveRequest, type UpdateBuildHistoryRequest, UsageRecordSchema } from './gen/github.com/moby/buildkit/api/services/control/control_pb.js';
import { BuildkitVersionSchema, WorkerRecordSchema } from './gen/github.com/moby/buildkit/api/types/worker_pb.js';
import { LLBBridge } from './gen/github.com/moby/buildkit/frontend/gateway/pb/gateway_pb.js';
import { PlatformSchema } from './gen/github.com/moby/buildkit/solver/pb/ops_pb.js';
import { bridgeService } from './bridge.js';
import { H2cServer } from './h2c.js';
import { MAX_MESSAGE_BYTES, SessionRegistry } from './sessions.js';
import { runSolve } from './solve.js';
import type { FailureSite } from './errors.js';
import { checkExporter, type ExporterRequest } from './solve-options.js';
import { runnablePlatforms } from '../exec/emulation.js';
import { probeIa32 } from '../util/ia32.js';
import type { ControlBackend, ControlServerOptions } from './types.js';

const SESSION_WAIT_MS = 10_000;

/**
 * BuildKit's control API, served on connections the daemon has upgraded to h2c (`POST /grpc`) or
 * on its own TCP/TLS listener, plus the client sessions (`POST /session`) builds call back.
 */
export class ControlServer {
  readonly sessions = new SessionRegistry();
  readonly jobs = new BuildJobs();
  #backend: ControlBackend;
  #opts: ControlServerOptions;
  #h2c: H2cServer;
  #handler: ReturnType<typeof connectNodeAdapter>;

  constructor(backend: ControlBackend, opts: ControlServerOptions) {
    this.#backend = backend;
    this.#opts = opts;
    this.#handler = connectNodeAdapter({
      routes: (router: ConnectRouter) => {
        router.service(Control, this.#control());
        router.service(LLBBridge, bridgeService(this.jobs, this.#workers()));
      },
      // Outermost first: the log sees the status the client gets.
      interceptors: [...(opts.log ? [callLog(opts.log)] : []), errorsAsStatus],
      grpc: true,
      grpcWeb: false,
      connect: false,
      readMaxBytes: MAX_MESSAGE_BYTES,
    });
    this.#h2c = new H2cServer(this.#handler);
    void backend.networks
      ?.inspect('bridge')
      .then((n) => {
        const gw = (n.IPAM as { Config?: { Gateway?: string }[] } | undefined)?.Config?.[0]?.Gateway;
        if (gw) this.#hostGateway = gw;
      })
      .catch(() => {});
  }

  #hostGateway: string | undefined;

  /** The request handler, for an HTTP/2 server of its own (`--buildkit-addr`). */
  get handler(): ReturnType<typeof connectNodeAdapter> {
    return this.#handler;
  }

  serve(socket: Duplex, head: Buffer): void {
    this.#h2c.accept(socket, head);
  }

  attachSession(socket: Duplex, head: Buffer, headers: IncomingHttpHeaders): void {
    this.sessions.attach(socket, head, headers);
  }

  /** Serve on an address of its own (`--buildkit-addr`); returns how to stop. */
  async listen(addr: string, tls?: BuildkitListenerTls): Promise<{ address: string; close(): Promise<void> }> {
    const l = await listenBuildkit(this.#handler, addr, tls, (socket) => this.#h2c.accept(socket, Buffer.alloc(0)));
    this.#listeners.push(l);
    return l;
  }

  #listeners: { close(): Promise<void> }[] = [];

  close(): void {
    for (const l of this.#listeners.splice(0)) void l.close();
    this.jobs.close();
    this.sessions.close();
    this.#h2c.close();
  }

  #workers() {
    const version = create(BuildkitVersionSchema, { package: 'github.com/tbuild/tbuild', version: `v${this.#opts.version}`, revision: 'tbuild' });
    // whether this amd64 kernel runs 386 code is learnt once; the list waits for it, so that
    // it does not change under a client that asked early
    const platformsKnown = probeIa32();
    return async () => [
      create(WorkerRecordSchema, {
        ID: 'tbuild',
        Labels: {
          'org.mobyproject.buildkit.worker.executor': 'runc',
          'org.mobyproject.buildkit.worker.snapshotter': 'overlayfs',
          'org.mobyproject.buildkit.worker.hostname': 'tbuild',
          // dockerd's label: buildx resolves `--add-host NAME:host-gateway` from it.
          ...(this.#hostGateway ? { 'org.mobyproject.buildkit.worker.moby.host-gateway-ip': this.#hostGateway } : {}),
        },
        // its own and every platform an emulator is registered for, read when buildx asks
        platforms: (await platformsKnown, runnablePlatforms()).map((p) => create(PlatformSchema, { OS: p.os, Architecture: p.architecture, ...(p.variant ? { Variant: p.variant } : {}) })),
        BuildkitVersion: version,
      }),
    ];
  }

  #control(): Partial<ServiceImpl<typeof Control>> {
    const backend = this.#backend;
    const jobs = this.jobs;
    const workers = this.#workers();
    return {
      info: async () => ({ buildkitVersion: (await workers())[0]!.BuildkitVersion }),
      listWorkers: async () => ({ record: await workers() }),
      diskUsage: async () => {
        const df = await backend.df();
        return { record: (df.BuildCache ?? []).map(usageRecord) };
      },
      prune: async function* (req: { all: boolean; keepDuration: bigint; reservedSpace: bigint; filter: string[] }) {
        const filters = req.filter.filter(Boolean);
        if (filters.length) throw new TbuildError('TB_BUILDKIT_UNSUPPORTED', `prune filters (${filters.join(', ')}) are not supported by tbuild`);
        const before = new Map(((await backend.df()).BuildCache ?? []).map((r) => [r.ID, r]));
        const res = await backend.pruneBuildCache({
          all: req.all,
          ...(req.keepDuration > 0n ? { until: `${Number(req.keepDuration / 1_000_000_000n)}s` } : {}),
          ...(req.reservedSpace > 0n ? { keepStorage: Number(req.reservedSpace) } : {}),
        });
        for (const id of res.CachesDeleted) {
          const r = before.get(id);
          yield r ? usageRecord(r) : create(UsageRecordSchema, { ID: id });
        }
      },
      status: async function* (this: void, req: { Ref: string }, ctx: HandlerContext) {
        yield* abortable(jobs.get(req.Ref).subscribe(), ctx.signal);
      },
      solve: async (req: SolveRequest, ctx: HandlerContext) => this.#solve(req, ctx),
      listenBuildHistory: async function* (req: BuildHistoryRequest, ctx: HandlerContext) {
        yield* listenBuildHistory(historyOf(backend), req, ctx);
      },
      updateBuildHistory: async (req: UpdateBuildHistoryRequest) => updateBuildHistory(historyOf(backend), req),
      // The session over a gRPC stream (buildkitd's way, used by buildx's remote driver): the
      // stream's bytes are a connection on which the client serves its session.
      session: (requests: AsyncIterable<{ data: Uint8Array }>, ctx: HandlerContext) => this.#streamSession(requests, ctx),
    };
  }

  async *#streamSession(requests: AsyncIterable<{ data: Uint8Array }>, ctx: HandlerContext): AsyncGenerator<{ data: Uint8Array }> {
    const out = new Channel<{ data: Uint8Array }>();
    const conn = byteStreamDuplex(out, (data) => create(BytesMessageSchema, { data }), requests);
    const headers: IncomingHttpHeaders = {};
    for (const name of ['x-docker-expose-session-uuid', 'x-docker-expose-session-name', 'x-docker-expose-session-sharedkey', 'x-docker-expose-session-grpc-method']) {
      const v = ctx.requestHeader.get(name);
      if (v !== null) headers[name] = v;
    }
    this.sessions.attach(conn, Buffer.alloc(0), headers);
    ctx.signal.addEventListener('abort', () => conn.destroy(), { once: true });
    yield* out;
    conn.destroy();
  }

  async #solve(req: SolveRequest, ctx: HandlerContext): Promise<{ ExporterResponse: Record<string, string> }> {
    const refuse = (what: string) => {
      throw new ConnectError(`${what} is not supported by tbuild`, Code.Unimplemented);
    };
    if (req.Definition && req.Definition.def.length) refuse('solving an LLB definition sent by the client');
    if (Object.keys(req.FrontendInputs).length) refuse('frontend inputs');
    const cache = cacheOptions(req);
    if (req.SourcePolicy && req.SourcePolicy.rules.length) refuse('source policies');
    if (req.EnableSessionExporter) refuse('session exporters');
    if (req.Frontend !== '' && req.Frontend !== 'dockerfile.v0') refuse(`the frontend ${JSON.stringify(req.Frontend)}`);
    const exporters: ExporterRequest[] = req.Exporters.length
      ? req.Exporters.map((e) => ({ type: e.Type, attrs: { ...e.Attrs } }))
      : req.ExporterDeprecated
        ? [{ type: req.ExporterDeprecated, attrs: { ...req.ExporterAttrsDeprecated } }]
        : [];
    for (const e of exporters) checkExporter(e);
    const allowed = this.#opts.allowedEntitlements ?? [];
    for (const e of req.Entitlements) {
      if (e !== 'network.host' && !allowed.includes(e)) {
        throw new ConnectError(`entitlement ${e} is not allowed: start the daemon with --allow-insecure-entitlement ${e}`, Code.PermissionDenied);
      }
    }
    const traceParent = ctx.requestHeader.get('traceparent') ?? undefined;
    if (traceParent !== undefined && !isTraceParent(traceParent)) throw new ConnectError(`traceparent ${JSON.stringify(traceParent)}: not a W3C trace context`, Code.InvalidArgument);
    const ref = req.Ref || `tbuild-${Date.now()}`;
    const job = this.jobs.get(ref);
    if (job.claimed) throw new ConnectError(`a build with ref ${ref} is already running`, Code.AlreadyExists);
    job.claimed = true;
    job.cacheImports = cache.cacheFrom.length;
    const failure: FailureSite = {};
    try {
      const session = await this.sessions.get(req.Session, SESSION_WAIT_MS, ctx.signal);
      // Failures carry their site (vertex, Dockerfile range) both ways they reach the client:
      // the bridge's Solve (which buildx prints) and this Solve.
      const solve = (frontendAttrs: Record<string, string>) =>
        runSolve({
          backend: this.#backend,
          job,
          session,
          frontendAttrs,
          exporters,
          cache,
          entitlements: req.Entitlements,
          signal: AbortSignal.any([ctx.signal, session.signal]),
          failure,
          ...(traceParent ? { traceParent } : {}),
        }).catch((err: unknown) => {
          throw toConnectError(err, failure);
        });
      let response: Record<string, string>;
      if (req.Frontend === 'dockerfile.v0') response = await solve({ ...req.FrontendAttrs });
      else response = await job.runGateway({ ...req.FrontendAttrs }, solve, AbortSignal.any([ctx.signal, session.signal]), exporters.length === 0);
      return { ExporterResponse: response };
    } catch (err) {
      throw toConnectError(err, failure);
    } finally {
      this.jobs.finish(ref);
    }
  }
}

/** A tbuild error thrown by a handler reaches the client as its gRPC status, never as "internal error". */
const errorsAsStatus: Interceptor = (next) => async (req) => {
  try {
    const res = await next(req);
    if (!res.stream) return res;
    const messages = res.message;
    return {
      ...res,
      message: (async function* () {
        try {
          yield* messages;
        } catch (err) {
          throw toConnectError(err);
        }
      })(),
    };
  } catch (err) {
    throw toConnectError(err);
  }
};

/** One daemon-log line per call (`--access-log`), streams included: when it ended and how. */
function callLog(log: (line: string) => void): Interceptor {
  return (next) => async (req) => {
    const started = Date.now();
    const path = req.url.replace(/^.*?\/\/[^/]*/, '');
    const failed = (err: unknown) => {
      log(`grpc ${path} failed after ${Date.now() - started}ms: ${err instanceof Error ? err.message : String(err)}`);
      return err;
    };
    try {
      const res = await next(req);
      if (!res.stream) {
        log(`grpc ${path} ok ${Date.now() - started}ms`);
        return res;
      }
      const messages = res.message;
      return {
        ...res,
        message: (async function* () {
          try {
            yield* messages;
            log(`grpc ${path} ended ${Date.now() - started}ms`);
          } catch (err) {
            throw failed(err);
          }
        })(),
      };
    } catch (err) {
      throw failed(err);
    }
  };
}

function usageRecord(r: { ID: string; Type: string; Description: string; InUse: boolean; Shared: boolean; Size: number; CreatedAt: string; LastUsedAt?: string; UsageCount: number; Parent?: string }) {
  return create(UsageRecordSchema, {
    ID: r.ID,
    RecordType: r.Type,
    Description: r.Description,
    InUse: r.InUse,
    Shared: r.Shared,
    Size: BigInt(r.Size),
    CreatedAt: timestampFromDate(new Date(r.CreatedAt)),
    ...(r.LastUsedAt ? { LastUsedAt: timestampFromDate(new Date(r.LastUsedAt)) } : {}),
    UsageCount: BigInt(r.UsageCount),
    Parents: r.Parent ? [r.Parent] : [],
  });
}

function historyOf(backend: ControlBackend): NonNullable<ControlBackend['records']> {
  if (!backend.records) throw new ConnectError('this server keeps no build history', Code.Unimplemented);
  return backend.records;
}

async function* abortable<T>(it: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  const iter = it[Symbol.asyncIterator]();
  const aborted = new Promise<IteratorResult<T>>((resolve) => {
    if (signal.aborted) resolve({ value: undefined, done: true });
    signal.addEventListener('abort', () => resolve({ value: undefined, done: true }), { once: true });
  });
  try {
    for (;;) {
      const r = await Promise.race([iter.next(), aborted]);
      if (r.done) return;
      yield r.value;
    }
  } finally {
    await iter.return?.();
  }
}

/**
 * `--cache-from`/`--cache-to` as buildx sends them (Control Solve's CacheOptions, or the
 * `cache-imports` frontend attribute in gateway builds). A local cache lives on the client: its
 * directory is a content store the client's session serves under `local:<dir>`, and the client
 * resolves an import's tag to the `digest` it sends and carries out `reset` itself.
 */
function cacheOptions(req: SolveRequest): { cacheFrom: CacheImportSpec[]; cacheTo: CacheExportSpec[] } {
  try {
    const imports = req.Cache?.Imports.map((c) => ({ type: c.Type, attrs: { ...c.Attrs } })) ?? [];
    if (!imports.length && req.FrontendAttrs['cache-imports']) {
      const listed = JSON.parse(req.FrontendAttrs['cache-imports']) as Array<{ Type?: string; Attrs?: Record<string, string> }>;
      for (const c of Array.isArray(listed) ? listed : []) imports.push({ type: c.Type ?? '', attrs: c.Attrs ?? {} });
    }
    const parse = <T extends CacheImportSpec | CacheExportSpec>(dir: 'from' | 'to', type: string, attrs: Record<string, string>): T => {
      if (type !== 'local') return cacheSpecFromAttrs(dir, type, attrs) as T;
      const { reset: _reset, ...rest } = attrs;
      const spec = cacheSpecFromAttrs(dir, type, rest) as Extract<CacheImportSpec | CacheExportSpec, { type: 'local' }>;
      // the client names its store by the attribute exactly as it sent it
      const store = `local:${dir === 'to' ? attrs.dest : attrs.src}`;
      if (!('dest' in spec) && !spec.digest) throw new ConnectError(`--cache-from type=local,src=${spec.src}: the client sent no digest (a local cache importer needs one)`, Code.InvalidArgument);
      return { ...spec, store } as T;
    };
    const cacheFrom = [
      ...imports.map((c) => parse<CacheImportSpec>('from', c.type, c.attrs)),
      ...(req.Cache?.ImportRefsDeprecated ?? []).map((ref) => ({ type: 'registry' as const, ref })),
    ];
    const cacheTo = (req.Cache?.Exports ?? []).map((c) => parse<CacheExportSpec>('to', c.Type, { ...c.Attrs }));
    if (req.Cache?.ExportRefDeprecated) cacheTo.push(parseCacheTo(`type=registry,ref=${req.Cache.ExportRefDeprecated}`));
    return { cacheFrom, cacheTo };
  } catch (err) {
    if (err instanceof ConnectError) throw err;
    throw new ConnectError((err as Error).message, Code.InvalidArgument);
  }
}
