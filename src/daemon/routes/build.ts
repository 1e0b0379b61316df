import { parseCacheFrom, parseCacheTo, refuseLocalOverApi } from '../../remotecache/spec.js';
import { PassThrough } from 'node:stream';
import type { BuildOptions, ProgressEvent } from '../../build/types.js';
import type { RequestContext } from '../http.js';
import { badRequest, boolParam, checkFilters, intParam, jsonParam, parseFilters, sendError, sendJson } from '../http.js';
import { JsonMessageWriter, familiarName, shortId, withDefaultTag } from '../../api/wire/json-message.js';
import type { ClassicStepRenderer } from '../build-steps.js';
import type { Router } from '../router.js';
import type { DaemonServices } from '../types.js';
import type { EventBus } from '../events.js';
import { entitlementDenied, parseEntitlement } from '../../exec/security/entitlements.js';
import { authsFromConfigHeader } from './registry.js';
import { checkAddHost } from '../../network/ports.js';
import { parseGitSource } from '../../worker/file/git-source.js';
import { isHttpSource } from '../../worker/file/http-source.js';
import { isTraceParent } from '../../util/trace.js';
import { checkRunResources } from '../../build/run-resources.js';

function networkOf(mode: string | null): BuildOptions['network'] {
  if (mode === null || mode === '' || mode === 'default' || mode === 'bridge') return 'default';
  if (mode === 'none' || mode === 'host') return mode;
  throw badRequest(`network mode "${mode}" not supported by the builder`);
}

/**
 * The build-only helpers (context tee, Dockerfile peek, classic step printer, failure shaping),
 * loaded on the first build so an idle daemon does not keep them resident.
 */
async function buildHelpers() {
  const [{ peekStepPlan, stepPlanOf }, { TarTerminator }, { ClassicStepRenderer }, { buildFailure }] = await Promise.all([
    import('../context-peek.js'),
    import('../context-stream.js'),
    import('../build-steps.js'),
    import('../build-error.js'),
  ]);
  return { peekStepPlan, stepPlanOf, TarTerminator, ClassicStepRenderer, buildFailure };
}

/** A limit from the query; absent, empty and `0` (what the CLI sends for "unset") are undefined. */
function limitParam(q: URLSearchParams, name: string, min: number): number | undefined {
  const n = intParam(q, name);
  if (!n) return undefined;
  if (!Number.isInteger(n) || n < min) throw badRequest(`invalid value for ${name}: ${q.get(name)} (want a whole number${min >= 0 ? ' >= 0' : ''})`);
  return n;
}

/**
 * What the classic builder's query asks that tbuild does not carry out, refused by name (dockerd's
 * words where it refuses too): a build never silently drops a setting it was given.
 */
function refuseUnsupported(q: URLSearchParams): void {
  const version = q.get('version');
  if (version && version !== '1') {
    throw badRequest(`builder version ${JSON.stringify(version)} through POST /build (BuildKit with a session) is not supported: use the buildx plugin, which drives tbuild through BuildKit's API`);
  }
  if (q.get('session')) throw badRequest('session: a build context from a client session through POST /build is not supported (use the buildx plugin)');
  const outputs = jsonParam<unknown[]>(q, 'outputs');
  if (Array.isArray(outputs) && outputs.length) throw badRequest('outputs: exporters through POST /build are not supported (use the buildx plugin, or tbuild build -o)');
  if (q.getAll('securityopt').some(Boolean)) throw badRequest('The daemon on this platform does not support setting security options on build');
  if (boolParam(q, 'squash')) throw badRequest('squash is not supported by tbuild\'s builder');
  const isolation = q.get('isolation');
  if (isolation && isolation !== 'default') throw badRequest(`Unsupported isolation: ${JSON.stringify(isolation)}`);
  for (const [name, flag] of [['cpusetcpus', '--cpuset-cpus'], ['cpusetmems', '--cpuset-mems'], ['cgroupparent', '--cgroup-parent']] as const) {
    const v = q.get(name);
    if (v) throw badRequest(`${name} (${flag} ${v}) is not supported by tbuild's builder`);
  }
  // `--rm=false` keeps the classic builder's intermediate containers; tbuild's steps leave none to keep
  if ((q.get('rm') ?? '') !== '' && !boolParam(q, 'rm') && !boolParam(q, 'forcerm')) {
    throw badRequest('rm=0 (--rm=false): tbuild keeps no intermediate containers to leave behind');
  }
}

/** Build options from `POST /build`'s query; what the classic CLI sends is carried out or refused by name. */
export function buildOptionsFromQuery(q: URLSearchParams): Omit<BuildOptions, 'context'> {
  refuseUnsupported(q);
  const remote = q.get('remote');
  // a git repository, a context tarball or a lone Dockerfile at a URL, fetched by the build (as dockerd)
  if (remote && !parseGitSource(remote) && !isHttpSource(remote)) throw badRequest(`remote context ${remote}: want a git URL or an http(s) URL`);
  const rawArgs = jsonParam<Record<string, string | null>>(q, 'buildargs') ?? {};
  const buildArgs: Record<string, string> = {};
  for (const [k, v] of Object.entries(rawArgs)) if (typeof v === 'string') buildArgs[k] = v;
  const labels = jsonParam<Record<string, string>>(q, 'labels');
  const opts: Omit<BuildOptions, 'context'> = {
    dockerfile: q.get('dockerfile') || 'Dockerfile',
    buildArgs,
    tags: q.getAll('t').filter(Boolean),
    noCache: boolParam(q, 'nocache'),
    network: networkOf(q.get('networkmode')),
  };
  const target = q.get('target');
  if (target) opts.target = target;
  if (labels && Object.keys(labels).length) opts.labels = labels;
  // `docker build --add-host` (classic): `name:ip` entries.
  const extraHosts = q.getAll('extrahosts').flatMap((s) => s.split(',')).filter(Boolean);
  if (extraHosts.length) opts.addHosts = extraHosts.map(checkAddHost);
  const platform = q.get('platform');
  if (platform) opts.platform = platform;
  const allow = q.getAll('allow').flatMap((s) => s.split(',')).filter(Boolean);
  if (allow.length) opts.allow = allow.map(parseEntitlement);
  if (boolParam(q, 'pull')) opts.pull = true;
  // `docker build --shm-size` and `--ulimit` (classic API: bytes, and [{Name,Soft,Hard}])
  const shm = q.get('shmsize');
  if (shm && shm !== '0') {
    if (!/^\d+$/.test(shm)) throw badRequest(`invalid shmsize ${shm}`);
    opts.shmSize = Number(shm);
  }
  // the classic builder's limits of the step containers (`docker build --memory` …)
  const memory = limitParam(q, 'memory', 0);
  const memorySwap = limitParam(q, 'memswap', -1);
  const cpuShares = limitParam(q, 'cpushares', 0);
  const cpuQuota = limitParam(q, 'cpuquota', -1);
  const cpuPeriod = limitParam(q, 'cpuperiod', 0);
  const runResources = {
    ...(memory ? { memory } : {}),
    ...(memorySwap ? { memorySwap } : {}),
    ...(cpuShares ? { cpuShares } : {}),
    ...(cpuQuota ? { cpuQuota } : {}),
    ...(cpuPeriod ? { cpuPeriod } : {}),
  };
  if (Object.keys(runResources).length) {
    try {
      checkRunResources(runResources);
    } catch (err) {
      throw badRequest((err as Error).message);
    }
    opts.runResources = runResources;
  }
  const ulimits = jsonParam<Array<{ Name?: unknown; Soft?: unknown; Hard?: unknown }>>(q, 'ulimits');
  if (Array.isArray(ulimits) && ulimits.length) opts.ulimits = ulimits.map((u) => `${String(u.Name)}=${Number(u.Soft)}:${Number(u.Hard)}`);
  // The CLI always sends `cachefrom` (often `[]`). Each entry is an image or a BuildKit cache spec,
  // as dockerd's BuildKit reads them; `cacheto` is tbuild's own (the classic API has no cache export).
  const cacheFrom = jsonParam<unknown[]>(q, 'cachefrom');
  const cacheTo = jsonParam<unknown[]>(q, 'cacheto');
  try {
    if (Array.isArray(cacheFrom) && cacheFrom.length) opts.cacheFrom = cacheFrom.map((c) => refuseLocalOverApi(parseCacheFrom(String(c)), '--cache-from'));
    if (Array.isArray(cacheTo) && cacheTo.length) opts.cacheTo = cacheTo.map((c) => refuseLocalOverApi(parseCacheTo(String(c)), '--cache-to'));
  } catch (err) {
    throw badRequest((err as Error).message);
  }
  return opts;
}

export function registerBuildRoutes(router: Router, svc: DaemonServices, events: EventBus): void {
  // builds started with `buildid`, for `POST /build/cancel?id=` (dockerd answers 200 for any id)
  const byBuildId = new Map<string, AbortController>();
  router.add('POST', '/build/cancel', async (ctx) => {
    const id = ctx.query.get('id');
    if (!id) throw badRequest('build ID not provided');
    byBuildId.get(id)?.abort();
    sendJson(ctx.res, 200, {});
  });

  // `docker builder prune` and `docker system prune`: the engine's build cache, really freed.
  router.add('POST', '/build/prune', async (ctx) => {
    const filters = parseFilters(ctx.query);
    checkFilters(filters, ['until']);
    const until = filters.get('until');
    if (until && until.length > 1) throw badRequest('only one until filter is allowed');
    const keep = ctx.query.get('keep-storage') ?? ctx.query.get('reserved-space');
    const keepStorage = keep ? Number(keep) : undefined;
    if (keepStorage !== undefined && (!Number.isFinite(keepStorage) || keepStorage < 0)) throw badRequest(`invalid keep-storage ${keep}`);
    const r = await svc.engine.pruneBuildCache({ all: boolParam(ctx.query, 'all'), ...(until ? { until: until[0]! } : {}), ...(keepStorage ? { keepStorage } : {}) });
    events.publish('builder', 'prune', '', { reclaimed: String(r.SpaceReclaimed) });
    sendJson(ctx.res, 200, { CachesDeleted: r.CachesDeleted.length ? r.CachesDeleted : null, SpaceReclaimed: r.SpaceReclaimed });
  });

  router.add('POST', '/build', async (ctx: RequestContext) => {
    const base = buildOptionsFromQuery(ctx.query);
    const buildId = ctx.query.get('buildid');
    if (buildId && byBuildId.has(buildId)) throw badRequest(`buildid ${buildId}: a build with this ID is running`);
    // A build gets an entitlement only when it asks and the daemon's owner allowed it.
    for (const e of (base.allow ?? []).map(parseEntitlement)) {
      if (e !== 'network.host' && !svc.allowedEntitlements?.includes(e)) throw entitlementDenied(e, 'daemon');
    }
    // Credentials for FROM pulls, per registry, as the Docker CLI sends them with every build.
    const auths = authsFromConfigHeader(ctx.req.headers['x-registry-config']);
    if (auths.length) base.registryAuth = auths;
    // a W3C trace context from the client: the build's spans join its trace (OpenTelemetry)
    const traceParent = ctx.req.headers.traceparent;
    if (typeof traceParent === 'string' && traceParent) {
      if (!isTraceParent(traceParent)) throw badRequest(`traceparent ${JSON.stringify(traceParent)}: not a W3C trace context`);
      base.traceParent = traceParent;
    }
    const quiet = boolParam(ctx.query, 'q');
    const { peekStepPlan, stepPlanOf, TarTerminator, ClassicStepRenderer, buildFailure } = await buildHelpers();
    const remote = ctx.query.get('remote');
    // The 200 goes out with the first message, as dockerd flushes it: a failure before then (a
    // truncated or non-tar context, a Dockerfile that does not parse) is an error response instead.
    ctx.res.statusCode = 200;
    ctx.res.setHeader('Content-Type', 'application/json');
    const out = new JsonMessageWriter(ctx.res);
    // The context goes to the engine and, on the side, to a reader that finds the Dockerfile so
    // the steps can be printed as the classic builder does. Progress waits for that reader.
    const forEngine = new PassThrough({ highWaterMark: 1 << 20 });
    const forPeek = new PassThrough({ highWaterMark: 1 << 20 });
    const body = ctx.req.pipe(new TarTerminator());
    // Failures reach the engine through forEngine (below); the middle stream needs no reporting.
    body.on('error', () => {});
    body.pipe(forEngine);
    body.pipe(forPeek);
    ctx.req.on('error', (err) => {
      body.destroy(err);
      forEngine.destroy(err);
      forPeek.destroy(err);
    });
    let steps: ClassicStepRenderer | undefined;
    const early: ProgressEvent[] = [];
    // With a remote context the body is empty, and the Dockerfile is known once the build has read it.
    let dockerfileText: (text: string) => void = () => {};
    const remoteText = new Promise<string>((resolve) => (dockerfileText = resolve));
    if (remote) ctx.req.resume();
    const planned = (remote ? remoteText.then((text) => stepPlanOf(text, base.dockerfile ?? 'Dockerfile')) : peekStepPlan(forPeek, base.dockerfile ?? 'Dockerfile')).then((plan) => {
      steps = new ClassicStepRenderer((text) => {
        if (!quiet) out.stream(text);
      }, plan);
      for (const ev of early.splice(0)) steps.onProgress(ev);
    });
    // The peek reader stops once it has the Dockerfile (or gives up): drain its copy from then on,
    // or the shared body stalls and the engine's copy with it.
    void planned.catch(() => {}).finally(() => forPeek.resume());
    // A client that disconnects mid-upload or mid-build cancels the build.
    const abort = new AbortController();
    const onGone = () => abort.abort();
    ctx.signal.addEventListener('abort', onGone);
    if (buildId) byBuildId.set(buildId, abort);
    ctx.req.on('error', onGone);
    try {
      const result = await svc.engine.build({
        ...base,
        context: remote ?? { tar: forEngine },
        ...(remote ? { onDockerfile: (text: string) => dockerfileText(text) } : {}),
        signal: abort.signal,
        onProgress: (ev) => {
          if (ev.type === 'warning') {
            if (!quiet) out.stream(`[WARNING]: ${ev.message}\n`);
          } else if (steps) steps.onProgress(ev);
          else early.push(ev);
        },
      });
      await planned;
      steps?.flush(true);
      out.write({ aux: { ID: result.imageId } });
      if (quiet) out.stream(`${result.imageId}\n`);
      else out.stream(`Successfully built ${shortId(result.imageId)}\n`);
      for (const tag of base.tags ?? []) {
        events.publish('image', 'tag', result.imageId, { name: familiarName(withDefaultTag(tag)) });
        if (!quiet) out.stream(`Successfully tagged ${familiarName(withDefaultTag(tag))}\n`);
      }
    } catch (err) {
      forPeek.resume();
      await Promise.race([planned, new Promise((r) => setTimeout(r, 1000))]);
      if (!ctx.res.headersSent) {
        if (!ctx.req.readableEnded) ctx.req.resume();
        sendError(ctx.res, err);
        return;
      }
      steps?.flush(false);
      const { message, code } = buildFailure(err);
      out.error(message, code);
    } finally {
      if (buildId && byBuildId.get(buildId) === abort) byBuildId.delete(buildId);
      ctx.signal.removeEventListener('abort', onGone);
      // Drain whatever the client still sends so the connection ends cleanly.
      if (!ctx.req.readableEnded) ctx.req.resume();
      forEngine.resume();
      forPeek.resume();
      ctx.res.end();
    }
  });
}
