import type { Router } from '../router.js';
import type { DaemonServices } from '../types.js';
import { badRequest } from '../http.js';
import { TbuildError } from '../../errors.js';

/**
 * `POST /grpc` and `POST /session`: buildx (and `docker build` with it) upgrades these to h2c and
 * speaks BuildKit's gRPC API over the raw connection, as with dockerd. Both answer `101` and hand
 * the socket to the control API; nothing else is written on it by the Engine API afterwards.
 */
export function registerBuildkitRoutes(router: Router, svc: DaemonServices): void {
  const upgrade = (kind: 'grpc' | 'session') => async (ctx: Parameters<Parameters<Router['add']>[2]>[0]) => {
    const endpoint = svc.buildkit;
    if (!endpoint) throw new TbuildError('TB_NOT_IMPLEMENTED', "this daemon does not serve BuildKit's API");
    if (!ctx.upgrade || String(ctx.req.headers.upgrade).toLowerCase() !== 'h2c') throw badRequest(`/${kind} needs a connection upgrade to h2c`);
    const { socket, head } = ctx.upgrade;
    if (kind === 'session' && !ctx.req.headers['x-docker-expose-session-uuid']) throw badRequest('a session needs an X-Docker-Expose-Session-Uuid header');
    socket.write('HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n');
    // The Engine API's sockets allow half-open connections, and HTTP/2 does not close on the
    // peer's FIN: a client that exits would leave the connection (and its fd) open for good.
    socket.once('end', () => socket.destroy());
    ctx.res.detachSocket(socket as never);
    if (kind === 'grpc') endpoint.serve(socket, head);
    else {
      try {
        endpoint.attachSession(socket, head, ctx.req.headers);
      } catch {
        // Already upgraded: a refused session (a duplicate id) can only be hung up on.
        socket.destroy();
      }
    }
    // The connection's life is the socket's from here.
    await new Promise<void>((resolve) => {
      if (socket.destroyed) resolve();
      else socket.once('close', () => resolve());
    });
  };
  router.add('POST', '/grpc', upgrade('grpc'));
  router.add('POST', '/session', upgrade('session'));
}
