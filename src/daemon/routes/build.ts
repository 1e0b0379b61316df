import type { BuildOptions } from '../../solver/types.js';
import type { RequestContext } from '../http.js';
import { badRequest, boolParam, jsonParam } from '../http.js';
import { JsonMessageWriter, familiarName, shortId, withDefaultTag } from '../json-message.js';
import { ClassicStepRenderer } from '../build-steps.js';
import { buildFailure } from '../build-error.js';
import type { Router } from '../router.js';
import type { DaemonServices } from '../types.js';
import type { EventBus } from '../events.js';

function networkOf(mode: string | null): BuildOptions['network'] {
  if (mode === null || mode === '' || mode === 'default' || mode === 'bridge') return 'default';
  if (mode === 'none' || mode === 'host') return mode;
  throw badRequest(`network mode "${mode}" not supported by the builder`);
}

/** Build options from `POST /build`'s query; everything the classic CLI sends is accepted. */
export function buildOptionsFromQuery(q: URLSearchParams): Omit<BuildOptions, 'context'> {
  if (q.get('remote')) throw badRequest('remote build contexts are not supported; send the context as a tar body');
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
  const platform = q.get('platform');
  if (platform) opts.platform = platform;
  return opts;
}

export function registerBuildRoutes(router: Router, svc: DaemonServices, events: EventBus): void {
  router.add('POST', '/build', async (ctx: RequestContext) => {
    const base = buildOptionsFromQuery(ctx.query);
    const quiet = boolParam(ctx.query, 'q');
    ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
    const out = new JsonMessageWriter(ctx.res);
    const steps = new ClassicStepRenderer((text) => {
      if (!quiet) out.stream(text);
    });
    // A client that disconnects mid-upload or mid-build cancels the build.
    const abort = new AbortController();
    const onGone = () => abort.abort();
    ctx.signal.addEventListener('abort', onGone);
    ctx.req.on('error', onGone);
    try {
      const result = await svc.engine.build({
        ...base,
        context: { tar: ctx.req },
        signal: abort.signal,
        onProgress: (ev) => {
          if (ev.type === 'warning' && !quiet) out.stream(`[WARNING]: ${ev.message}\n`);
          else steps.onProgress(ev);
        },
      });
      steps.flush();
      out.write({ aux: { ID: result.imageId } });
      if (quiet) out.stream(`${result.imageId}\n`);
      else out.stream(`Successfully built ${shortId(result.imageId)}\n`);
      for (const tag of base.tags ?? []) {
        events.publish('image', 'tag', result.imageId, { name: familiarName(withDefaultTag(tag)) });
        if (!quiet) out.stream(`Successfully tagged ${familiarName(withDefaultTag(tag))}\n`);
      }
    } catch (err) {
      steps.flush();
      const { message, code } = buildFailure(err);
      out.error(message, code);
    } finally {
      ctx.signal.removeEventListener('abort', onGone);
      // Drain whatever the client still sends so the connection ends cleanly.
      if (!ctx.req.readableEnded) ctx.req.resume();
      ctx.res.end();
    }
  });
}
