import type { Router } from '../router.js';
import type { DaemonServices } from '../types.js';
import { badRequest, sendJson } from '../http.js';
import { compareVersions } from '../../api/wire/version.js';

export function registerSystemRoutes(router: Router, svc: DaemonServices): void {
  const ping = async (ctx: Parameters<Parameters<Router['add']>[2]>[0]) => {
    const res = ctx.res;
    // `2`: buildx talks BuildKit's API on /grpc and /session (classic `POST /build` stays too).
    res.setHeader('Builder-Version', svc.buildkit ? '2' : '1');
    res.setHeader('Cache-Control', 'no-cache, no-store, must-revalidate');
    res.setHeader('Pragma', 'no-cache');
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': '2' });
    res.end(ctx.method === 'HEAD' ? undefined : 'OK');
  };
  router.add('GET', '/_ping', ping);
  router.add('HEAD', '/_ping', ping);

  router.add('GET', '/version', async (ctx) => {
    const { Where: _where, ...body } = await svc.engine.version();
    sendJson(ctx.res, 200, body);
  });

  router.add('GET', '/info', async (ctx) => {
    const info = await svc.engine.info();
    sendJson(ctx.res, 200, {
      ...info,
      ...(svc.name ? { Name: svc.name } : {}),
      ...(svc.settingSources ? { Settings: { ...((info.Settings as Record<string, string> | undefined) ?? {}), ...svc.settingSources } } : {}),
      Warnings: [...((info.Warnings as string[] | undefined) ?? []), ...(svc.warnings ?? [])],
    });
  });

  router.add('GET', '/system/df', async (ctx) => {
    // Computed by the engine, the same way the embedded CLI's `df` computes it.
    const computed = await svc.engine.df();
    // `type=` (API 1.42): only the kinds asked for; the others are null, as dockerd leaves them
    const types = ctx.query.getAll('type');
    const KINDS = { container: 'Containers', image: 'Images', volume: 'Volumes', 'build-cache': 'BuildCache' } as const;
    for (const t of types) if (!(t in KINDS)) throw badRequest(`invalid type: ${t}`);
    const df = types.length
      ? { ...computed, ...Object.fromEntries(Object.entries(KINDS).filter(([t]) => !types.includes(t)).map(([, key]) => [key, null])) }
      : computed;
    const old = compareVersions(ctx.apiVersion, '1.44') < 0;
    sendJson(ctx.res, 200, old && df.Images ? { ...df, Images: df.Images.map((i) => ({ ...i, VirtualSize: i.Size })) } : df);
  });

}
