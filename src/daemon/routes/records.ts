import type { Router } from '../router.js';
import type { DaemonServices } from '../types.js';
import { TbuildError } from '../../errors.js';
import { boolParam, intParam, sendJson } from '../http.js';

/**
 * tbuild's own endpoints (not Docker's API), for build records: `GET /tbuild/builds` (summaries,
 * newest first), `GET /tbuild/builds/{id}` (`last` works), `GET /tbuild/builds/{id}/logs[?step=N]`
 * (the whole output, as bytes).
 */
export function registerRecordRoutes(router: Router, svc: DaemonServices): void {
  const records = () => {
    if (!svc.engine.records) throw new TbuildError('TB_NOT_IMPLEMENTED', 'this engine keeps no build records');
    return svc.engine.records;
  };
  router.add('GET', '/tbuild/builds', async (ctx) => {
    sendJson(ctx.res, 200, await records().list());
  });
  router.add('GET', '/tbuild/builds/{id}', async (ctx) => {
    sendJson(ctx.res, 200, await records().get(ctx.params.id!));
  });
  // `tbuild system verify` through a daemon: the same check, run by the process that owns the root.
  router.add('POST', '/tbuild/system/verify', async (ctx) => {
    if (!svc.engine.verify) throw new TbuildError('TB_NOT_IMPLEMENTED', 'this engine has no local store to verify');
    sendJson(ctx.res, 200, await svc.engine.verify({ repair: boolParam(ctx.query, 'repair') }));
  });
  router.add('GET', '/tbuild/builds/{id}/logs', async (ctx) => {
    const stream = await records().logs(ctx.params.id!, intParam(ctx.query, 'step'));
    ctx.res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
    for await (const chunk of stream) ctx.res.write(chunk as Buffer);
    ctx.res.end();
  });
}
