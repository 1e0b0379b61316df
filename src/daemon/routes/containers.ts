import { pipeline } from 'node:stream/promises';
import type { WaitCondition } from '../../containers/types.js';
import type { Router } from '../router.js';
import type { DaemonServices } from '../types.js';
import type { ContainerSessions } from '../sessions.js';
import { badRequest, boolParam, ttySizeFromQuery, intParam, parseFilters, readJson, sendJson, sendStatus } from '../http.js';
import { createOptionsFromBody } from '../create-options.js';
import { isTbuildError } from '../../errors.js';
import { containerInspect, containerSummary } from '../../api/shapes/containers.js';
import { parseDetachKeys, watchDetachKeys } from '../../util/detach-keys.js';
import { hijack, readUpgradeJson } from '../hijack.js';
import { framedWriter, STDERR, STDOUT } from '../../api/wire/multiplex.js';
import { archiveStatHeader } from '../archive-stat.js';
import { platformMismatchWarning } from '../../util/platform.js';
import { filtersWantAll, selectContainers } from '../../api/container-filters.js';

const MULTIPLEXED = 'application/vnd.docker.multiplexed-stream';
const RAW = 'application/vnd.docker.raw-stream';

interface ContainerSizes {
  SizeRw: number;
  SizeRootFs: number;
}

/** Docker's SizeRw (the writable layer's files) and SizeRootFs (with the image's) of every container. */
async function containerSizes(svc: DaemonServices): Promise<Map<string, ContainerSizes>> {
  const sizes = new Map<string, ContainerSizes>();
  const df = await svc.engine.df();
  const imageSize = new Map((df.Images ?? []).map((i) => [i.Id, i.Size]));
  for (const c of df.Containers ?? []) sizes.set(c.Id, { SizeRw: c.SizeRw ?? 0, SizeRootFs: (c.SizeRw ?? 0) + (imageSize.get(String(c.ImageID ?? '')) ?? 0) });
  return sizes;
}

/** Iterate until `signal` aborts, without waiting for the next entry (a followed log may be idle). */
async function* untilAborted<T>(iterable: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  const it = iterable[Symbol.asyncIterator]();
  const aborted = new Promise<IteratorResult<T>>((resolve) => {
    if (signal.aborted) resolve({ done: true, value: undefined });
    signal.addEventListener('abort', () => resolve({ done: true, value: undefined }), { once: true });
  });
  try {
    for (;;) {
      const r = await Promise.race([it.next(), aborted]);
      if (r.done) return;
      yield r.value;
    }
  } finally {
    if (signal.aborted) void it.return?.().catch(() => {});
  }
}

export function registerContainerRoutes(router: Router, svc: DaemonServices, sessions: ContainerSessions): void {
  const containers = svc.engine.containers;

  router.add('GET', '/containers/json', async (ctx) => {
    const filters = parseFilters(ctx.query);
    // a limit (`docker ps -l`, `-n N`) counts stopped containers too, as Docker's does
    const all = boolParam(ctx.query, 'all') || filtersWantAll(filters) || (intParam(ctx.query, 'limit') ?? 0) > 0;
    const now = Date.now();
    let list = await selectContainers(await containers.list({ all }), filters, { image: (ref) => svc.engine.images.get(ref), container: (ref) => containers.inspect(ref) }, now);
    list.sort((a, b) => Date.parse(b.created) - Date.parse(a.created));
    const limit = intParam(ctx.query, 'limit');
    if (limit && limit > 0) list = list.slice(0, limit);
    // `ps -s`: the writable layer's files and, with the image's, the whole root (Docker's SizeRw/SizeRootFs)
    const sizes = boolParam(ctx.query, 'size') ? await containerSizes(svc) : new Map<string, ContainerSizes>();
    sendJson(ctx.res, 200, list.map((c) => ({ ...containerSummary(c, now), ...(sizes.get(c.id) ?? {}) })));
  });

  router.add('POST', '/containers/create', async (ctx) => {
    const body = await readJson(ctx.req);
    const opts = createOptionsFromBody(body, ctx.query.get('name') ?? undefined);
    const platform = ctx.query.get('platform');
    if (platform) opts.platform = platform;
    // The Docker CLI takes any 404 from create to mean "no such image" and goes to pull it: a
    // missing network (or container to share one with) is the request's fault, said as such.
    const rec = await containers.create(opts).catch((err: unknown) => {
      if (isTbuildError(err, 'TB_NETWORK_NOT_FOUND') || isTbuildError(err, 'TB_CONTAINER_NOT_FOUND')) throw badRequest(err.message);
      throw err;
    });
    // an image of another CPU, created without ?platform=: Docker says so (its CLI prints it)
    const warning = platform ? undefined : platformMismatchWarning((await svc.engine.images.get(rec.imageId).catch(() => undefined))?.config ?? {});
    sendJson(ctx.res, 201, { Id: rec.id, Warnings: warning ? [warning] : [] });
  });

  router.add('POST', '/containers/prune', async (ctx) => {
    const { deleted, spaceReclaimed } = await containers.prune(parseFilters(ctx.query));
    sendJson(ctx.res, 200, { ContainersDeleted: deleted.length ? deleted : null, SpaceReclaimed: spaceReclaimed });
  });

  router.add('GET', '/containers/{id}/json', async (ctx) => {
    const c = await containers.inspect(ctx.params.id!);
    const img = await svc.engine.images.get(c.imageId).catch(() => undefined);
    // `docker inspect -s`: the same sizes as `ps -s`
    const size = boolParam(ctx.query, 'size') ? (await containerSizes(svc)).get(c.id) : undefined;
    sendJson(ctx.res, 200, { ...containerInspect(c, img?.config.config, sessions.execIdsOf(c.id)), ...(size ?? {}) });
  });

  router.add('POST', '/containers/{id}/start', async (ctx) => {
    const c = await containers.inspect(ctx.params.id!);
    if (c.state.status === 'running' || c.state.status === 'paused') {
      sendStatus(ctx.res, 304);
      return;
    }
    await sessions.start(c.id);
    sendStatus(ctx.res, 204);
  });

  router.add('POST', '/containers/{id}/attach', async (ctx) => {
    const c = await containers.inspect(ctx.params.id!);
    // Some clients (dockerode) send their options as a body too; it is not stdin.
    if (ctx.upgrade || Number(ctx.req.headers['content-length'] ?? 0) > 0) await readUpgradeJson(ctx).catch(() => ({}));
    const tty = Boolean(c.options.tty);
    const wantStdin = boolParam(ctx.query, 'stdin');
    const wantStdout = boolParam(ctx.query, 'stdout');
    const wantStderr = boolParam(ctx.query, 'stderr');
    const detachKeys = tty ? parseDetachKeys(ctx.query.get('detachKeys') ?? undefined) : undefined;
    const stream = hijack(ctx, tty ? RAW : MULTIPLEXED);
    const stdout = wantStdout ? (tty ? stream.output : framedWriter(stream.output, STDOUT)) : undefined;
    const stderr = wantStderr ? (tty ? stream.output : framedWriter(stream.output, STDERR)) : undefined;
    // Without stdin, the client's half-close must not end anything.
    let stdin = wantStdin && c.options.openStdin ? stream.input : undefined;
    if (!stdin) stream.input.resume();
    // Docker watches a tty client's input for the detach keys; their input then ends, which with a
    // tty detaches this client and leaves the container and its stdin running.
    if (stdin && detachKeys) {
      const watched = watchDetachKeys(stdin, detachKeys, () => watched.end());
      stdin = watched;
    }
    try {
      // `logs=1`: what the container wrote before, first; `stream=1`: then its live output (without
      // it, Docker answers with the replay alone)
      if (boolParam(ctx.query, 'logs')) {
        for await (const e of containers.logs(c.id, { stdout: wantStdout, stderr: wantStderr })) {
          const out = e.stream === 'stdout' ? stdout : stderr;
          if (out && !out.write(e.log)) await new Promise((r) => out.once('drain', r));
        }
      }
      if (boolParam(ctx.query, 'stream')) await sessions.attach(c.id, { stdout, stderr, stdin });
    } finally {
      stream.close();
    }
  });

  router.add('POST', '/containers/{id}/wait', async (ctx) => {
    const raw = ctx.query.get('condition') || 'not-running';
    if (!['not-running', 'next-exit', 'removed'].includes(raw)) throw badRequest(`invalid condition: "${raw}"`);
    const c = await containers.inspect(ctx.params.id!);
    // Register the wait before telling the client, so a start that follows cannot be missed.
    const waiting = containers.wait(c.id, raw as WaitCondition);
    ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
    ctx.res.flushHeaders();
    try {
      const { exitCode } = await waiting;
      ctx.res.end(JSON.stringify({ StatusCode: exitCode, Error: null }) + '\n');
    } catch (err) {
      ctx.res.end(JSON.stringify({ StatusCode: -1, Error: { Message: err instanceof Error ? err.message : String(err) } }) + '\n');
    }
  });

  router.add('GET', '/containers/{id}/logs', async (ctx) => {
    const q = ctx.query;
    const stdoutOn = boolParam(q, 'stdout');
    const stderrOn = boolParam(q, 'stderr');
    if (!stdoutOn && !stderrOn) throw badRequest('Bad parameters: you must choose at least one stream');
    const c = await containers.inspect(ctx.params.id!);
    const tty = Boolean(c.options.tty);
    const tailRaw = q.get('tail');
    const tail = !tailRaw || tailRaw === 'all' ? 'all' : Number(tailRaw);
    if (tail !== 'all' && (!Number.isInteger(tail) || tail < 0)) throw badRequest(`invalid tail: ${tailRaw}`);
    const timestamps = boolParam(q, 'timestamps');
    // --details adds the log's extra attributes (log-opt labels/env, of which tbuild sets none) and a space
    const details = boolParam(q, 'details') ? ' ' : '';
    const since = intParam(q, 'since');
    const until = intParam(q, 'until');
    const iter = containers.logs(c.id, { follow: boolParam(q, 'follow'), stdout: stdoutOn, stderr: stderrOn, tail, timestamps, since, until: until || undefined });
    ctx.res.writeHead(200, { 'Content-Type': tty ? RAW : MULTIPLEXED });
    ctx.res.flushHeaders();
    const out = tty ? ctx.res : undefined;
    const outs = tty ? undefined : { [STDOUT]: framedWriter(ctx.res, STDOUT), [STDERR]: framedWriter(ctx.res, STDERR) };
    for await (const entry of untilAborted(iter, ctx.signal)) {
      const line = timestamps ? `${entry.time} ${details}${entry.log}` : `${details}${entry.log}`;
      if (out) out.write(line);
      else outs![entry.stream === 'stderr' ? STDERR : STDOUT].write(line);
    }
    // Let the framing writers hand their last chunks to the response.
    await new Promise((r) => setImmediate(r));
    ctx.res.end();
  });

  router.add('GET', '/containers/{id}/top', async (ctx) => {
    const { titles, processes } = await containers.top(ctx.params.id!, ctx.query.get('ps_args') ?? undefined);
    sendJson(ctx.res, 200, { Titles: titles, Processes: processes });
  });

  router.add('GET', '/containers/{id}/changes', async (ctx) => {
    const changes = await containers.changes(ctx.params.id!);
    sendJson(ctx.res, 200, changes.length ? changes : null);
  });

  router.add('GET', '/containers/{id}/export', async (ctx) => {
    const tar = await containers.export(ctx.params.id!);
    ctx.res.writeHead(200, { 'Content-Type': 'application/x-tar' });
    await pipeline(tar, ctx.res);
  });

  const archiveGet = async (ctx: Parameters<Parameters<Router['add']>[2]>[0]) => {
    const path = ctx.query.get('path');
    if (!path) throw badRequest('path is required');
    const { tar, stat } = await containers.getArchive(ctx.params.id!, path);
    ctx.res.setHeader('X-Docker-Container-Path-Stat', archiveStatHeader(stat));
    if (ctx.method === 'HEAD') {
      tar.destroy();
      sendStatus(ctx.res, 200);
      return;
    }
    ctx.res.writeHead(200, { 'Content-Type': 'application/x-tar' });
    await pipeline(tar, ctx.res);
  };
  router.add('GET', '/containers/{id}/archive', archiveGet);
  router.add('HEAD', '/containers/{id}/archive', archiveGet);

  router.add('PUT', '/containers/{id}/archive', async (ctx) => {
    const path = ctx.query.get('path');
    if (!path) throw badRequest('path is required');
    await containers.putArchive(ctx.params.id!, path, ctx.req, { noOverwriteDirNonDir: boolParam(ctx.query, 'noOverwriteDirNonDir') });
    sendStatus(ctx.res, 200);
  });

  router.add('POST', '/containers/{id}/stop', async (ctx) => {
    const c = await containers.inspect(ctx.params.id!);
    if (c.state.status !== 'running' && c.state.status !== 'paused' && c.state.status !== 'restarting') {
      sendStatus(ctx.res, 304);
      return;
    }
    await containers.stop(c.id, intParam(ctx.query, 't'), ctx.query.get('signal') || undefined);
    sendStatus(ctx.res, 204);
  });

  router.add('POST', '/containers/{id}/kill', async (ctx) => {
    await containers.kill(ctx.params.id!, ctx.query.get('signal') || undefined);
    sendStatus(ctx.res, 204);
  });

  router.add('POST', '/containers/{id}/restart', async (ctx) => {
    await containers.restart(ctx.params.id!, intParam(ctx.query, 't'), ctx.query.get('signal') || undefined);
    sendStatus(ctx.res, 204);
  });

  router.add('POST', '/containers/{id}/pause', async (ctx) => {
    await containers.pause(ctx.params.id!);
    sendStatus(ctx.res, 204);
  });

  router.add('POST', '/containers/{id}/unpause', async (ctx) => {
    await containers.unpause(ctx.params.id!);
    sendStatus(ctx.res, 204);
  });

  router.add('POST', '/containers/{id}/rename', async (ctx) => {
    const name = ctx.query.get('name');
    if (!name) throw badRequest('name is required');
    await containers.rename(ctx.params.id!, name.replace(/^\//, ''));
    sendStatus(ctx.res, 204);
  });

  router.add('POST', '/containers/{id}/resize', async (ctx) => {
    await containers.resize(ctx.params.id!, ttySizeFromQuery(ctx.query));
    sendStatus(ctx.res, 200);
  });

  router.add('DELETE', '/containers/{id}', async (ctx) => {
    // `docker rm --link NAME` removes a legacy link, never the container itself
    if (boolParam(ctx.query, 'link')) throw badRequest('link=1 (docker rm --link): tbuild has no legacy container links to remove');
    await containers.remove(ctx.params.id!, { force: boolParam(ctx.query, 'force'), volumes: boolParam(ctx.query, 'v') });
    sendStatus(ctx.res, 204);
  });
}
