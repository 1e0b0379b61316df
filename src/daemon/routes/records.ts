import type { Router } from '../router.js';
import type { DaemonServices } from '../types.js';
import { TbuildError } from '../../errors.js';
import { intParam, sendJson } from '../http.js';

/**
 * tbuild's own endpoints for build records (not Docker's API): `GET /tbuild/builds` (summaries,
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
  router.add('GET', '/tbuild/builds/{id}/logs', async (ctx) => {
    const stream = await records().logs(ctx.params.id!, intParam(ctx.query, 'step'));
    ctx.res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
    for await (const chunk of stream) ctx.res.write(chunk as Buffer);
    ctx.res.end();
  });
}
