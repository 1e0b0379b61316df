import { pipeline } from 'node:stream/promises';
import { pruneImages } from '../../images/prune.js';
import type { Router } from '../router.js';
import type { DaemonServices } from '../types.js';
import type { EventBus } from '../events.js';
import type { RequestContext } from '../http.js';
import { badRequest, boolParam, parseFilters, readJson, sendJson } from '../http.js';
import { imageHistory, imageInspect, imageSummary } from '../../api/shapes/images.js';
import { selectImages } from '../../api/image-filters.js';
import { pullRoute } from './registry.js';
import { JsonMessageWriter, familiarName, withDefaultTag } from '../../api/wire/json-message.js';

function notImplemented(what: string): Error {
  return Object.assign(new Error(`${what} is not supported by this daemon yet`), { statusCode: 501 });
}

/** The `changes` query (repeated, or one value with newlines) as Dockerfile lines. */
function changesParam(q: URLSearchParams): string[] {
  return q.getAll('changes').flatMap((c) => c.split('\n')).map((c) => c.trim()).filter(Boolean);
}

/** `repo` + `tag` query values → a reference, or undefined. */
function refParam(q: URLSearchParams): string | undefined {
  const repo = q.get('repo');
  if (!repo) return undefined;
  const tag = q.get('tag');
  return tag ? `${repo}:${tag}` : repo;
}

export function registerImageRoutes(router: Router, svc: DaemonServices, events: EventBus): void {
  const images = svc.engine.images;

  router.add('GET', '/images/json', async (ctx) => {
    const all = await images.list();
    let list = await selectImages(all, parseFilters(ctx.query), (ref) => images.resolve(ref));
    list = [...list].sort((a, b) => Date.parse(b.created) - Date.parse(a.created));
    const shared = boolParam(ctx.query, 'shared-size') ? all : undefined;
    sendJson(ctx.res, 200, list.map((img) => imageSummary(img, ctx.apiVersion, shared)));
  });

  router.add('POST', '/images/load', async (ctx) => {
    if (!svc.archives) throw notImplemented('image load');
    // `quiet` only hides progress bars, which we do not send; the "Loaded image" lines always go.
    const loaded = await svc.archives.load(ctx.req);
    ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
    const out = new JsonMessageWriter(ctx.res);
    for (const name of loaded) {
      const isId = name.startsWith('sha256:');
      events.publish('image', 'load', name, { name: isId ? name : familiarName(name) });
      out.stream(isId ? `Loaded image ID: ${name}\n` : `Loaded image: ${familiarName(name)}\n`);
    }
    ctx.res.end();
  });

  const save = async (ctx: RequestContext, refs: string[]) => {
    if (!svc.archives) throw notImplemented('image save');
    if (!refs.length) throw badRequest('no image names given');
    for (const r of refs) await images.resolve(r);
    const tar = await svc.archives.save(refs);
    ctx.res.writeHead(200, { 'Content-Type': 'application/x-tar' });
    await pipeline(tar, ctx.res);
    for (const r of refs) events.publish('image', 'save', r, { name: r });
  };
  router.add('GET', '/images/get', (ctx) => save(ctx, ctx.query.getAll('names').filter(Boolean)));

  router.add('POST', '/images/create', async (ctx) => {
    const fromSrc = ctx.query.get('fromSrc');
    const fromImage = ctx.query.get('fromImage');
    if (fromImage) return pullRoute(ctx, svc, events);
    if (fromSrc !== '-') throw badRequest(fromSrc ? 'importing from a URL is not supported; send the tar as the body (fromSrc=-)' : 'fromImage or fromSrc is required');
    if (!svc.archives?.importTar) throw notImplemented('image import');
    const img = await svc.archives.importTar(ctx.req, {
      ref: refParam(ctx.query),
      changes: changesParam(ctx.query),
      message: ctx.query.get('message') ?? undefined,
      // `docker import --platform`: the architecture the image says it is for
      ...(ctx.query.get('platform') ? { platform: ctx.query.get('platform')! } : {}),
    });
    events.publish('image', 'import', img.id, { name: refParam(ctx.query) ?? img.id });
    ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
    new JsonMessageWriter(ctx.res).write({ status: img.id });
    ctx.res.end();
  });

  router.add('POST', '/images/prune', async (ctx) => {
    const res = await pruneImages(images, { filters: parseFilters(ctx.query), onRemoved: (img) => events.publish('image', 'delete', img.id, { name: img.id }) });
    sendJson(ctx.res, 200, { ImagesDeleted: res.ImagesDeleted.length ? res.ImagesDeleted : null, SpaceReclaimed: res.SpaceReclaimed });
  });

  router.add('POST', '/commit', async (ctx) => {
    if (!svc.archives?.commit) throw notImplemented('commit');
    const container = ctx.query.get('container');
    if (!container) throw badRequest('container is required');
    // a config in the body (docker-py's commit(conf=…)) would be merged into the image's: not done, so refused
    const conf = await readJson(ctx.req);
    // dockerode also sends its query options (repo, tag, changes…) as the body: only a container
    // config's fields (Env, Cmd…, capitalised) count
    const set = Object.entries(conf).filter(([k, v]) => /^[A-Z]/.test(k) && v !== null && v !== undefined && !(Array.isArray(v) && !v.length) && !(typeof v === 'object' && !Array.isArray(v) && !Object.keys(v).length) && v !== '' && v !== false && v !== 0);
    if (set.length) throw badRequest(`a container config in the commit body is not supported (${set.map(([k]) => k).join(', ')}); use changes=`);
    const img = await svc.archives.commit(container, {
      ref: refParam(ctx.query),
      changes: changesParam(ctx.query),
      comment: ctx.query.get('comment') ?? undefined,
      author: ctx.query.get('author') ?? undefined,
      pause: boolParam(ctx.query, 'pause', true),
    });
    events.publish('container', 'commit', container, { imageID: img.id });
    sendJson(ctx.res, 201, { Id: img.id });
  });

  router.add('GET', '/images/{name:*}/json', async (ctx) => {
    const img = await images.resolve(ctx.params.name!);
    sendJson(ctx.res, 200, imageInspect(img, ctx.apiVersion, await svc.engine.graphDriverDirs?.(img)));
  });

  router.add('GET', '/images/{name:*}/history', async (ctx) => {
    sendJson(ctx.res, 200, imageHistory(await images.resolve(ctx.params.name!)));
  });

  router.add('GET', '/images/{name:*}/get', (ctx) => save(ctx, [ctx.params.name!]));

  router.add('POST', '/images/{name:*}/tag', async (ctx) => {
    const repo = ctx.query.get('repo');
    if (!repo) throw badRequest('repository name must have at least one component');
    const tag = ctx.query.get('tag');
    const target = tag ? `${repo}:${tag}` : repo;
    const img = await images.resolve(ctx.params.name!);
    await images.tag(img.id, target);
    events.publish('image', 'tag', img.id, { name: familiarName(withDefaultTag(target)) });
    ctx.res.writeHead(201);
    ctx.res.end();
  });

  router.add('DELETE', '/images/{name:*}', async (ctx) => {
    const ref = ctx.params.name!;
    const force = boolParam(ctx.query, 'force');
    const img = await images.resolve(ref);
    // The store refuses an image a container uses (Docker's conflict rules) through its in-use check.
    const result = await images.remove(ref, { force });
    for (const r of result) {
      if (r.Untagged) events.publish('image', 'untag', img.id, { name: familiarName(r.Untagged) });
      if (r.Deleted) events.publish('image', 'delete', r.Deleted, { name: r.Deleted });
    }
    sendJson(
      ctx.res,
      200,
      result.map((r) => (r.Untagged ? { Untagged: familiarName(r.Untagged) } : r)),
    );
  });
}
