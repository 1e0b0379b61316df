import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Router } from './router.js';
import { checkVersion, compareVersions, splitVersion, MAX_API_VERSION, SERVER_VERSION } from '../api/wire/version.js';
import { errorResponse, sendError, sendJson, type RequestContext } from './http.js';
import { EventBus } from './events.js';
import type { DaemonServices } from './types.js';
import { registerSystemRoutes } from './routes/system.js';
import { registerBuildRoutes } from './routes/build.js';
import { registerImageRoutes } from './routes/images.js';
import { registerRegistryRoutes } from './routes/registry.js';
import { registerContainerRoutes } from './routes/containers.js';
import { registerExecRoutes } from './routes/exec.js';
import { registerContainerResourceRoutes } from './routes/container-resources.js';
import { registerRecordRoutes } from './routes/records.js';
import { registerVolumeRoutes } from './routes/volumes.js';
import { registerEventRoutes } from './routes/events.js';
import { registerBuildkitRoutes } from './routes/buildkit.js';
import { registerNetworkRoutes } from './routes/networks.js';
import { ContainerSessions } from './sessions.js';

export interface App {
  events: EventBus;
  handle(req: IncomingMessage, res: ServerResponse): void;
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Requests still being served (for a graceful stop). */
  inFlight(): number;
  /** Tell endless streams to end (first step of a graceful stop). */
  beginShutdown(): void;
  close(): void;
}

/** The Engine API as a request handler, independent of how it is listened on. */
export function createApp(svc: DaemonServices, opts: { log?: (line: string) => void; accessLog?: boolean } = {}): App {
  const log = opts.log ?? (() => {});
  const events = new EventBus();
  const sessions = new ContainerSessions(svc.engine.containers, events);
  const router = new Router();
  registerSystemRoutes(router, svc);
  registerBuildRoutes(router, svc, events);
  registerRegistryRoutes(router, svc, events);
  registerImageRoutes(router, svc, events);
  registerContainerRoutes(router, svc, sessions);
  registerExecRoutes(router, svc, sessions);
  registerContainerResourceRoutes(router, svc);
  registerRecordRoutes(router, svc);
  registerVolumeRoutes(router, svc, events);
  registerEventRoutes(router, events);
  registerNetworkRoutes(router, svc, events);
  registerBuildkitRoutes(router, svc);
  let inFlight = 0;
  const shutdown = new AbortController();

  const dispatch = async (req: IncomingMessage, res: ServerResponse, upgrade?: { socket: Duplex; head: Buffer }) => {
    inFlight++;
    const abort = new AbortController();
    const started = performance.now();
    // A hijacked request's response never finishes: its end is the socket's.
    (upgrade ? upgrade.socket : res).once('close', () => {
      inFlight--;
      if (opts.accessLog) log(`${req.method} ${req.url} ${upgrade ? 'upgraded' : res.statusCode} ${(performance.now() - started).toFixed(1)}ms`);
      if (!res.writableFinished) abort.abort();
    });
    res.setHeader('Api-Version', MAX_API_VERSION);
    res.setHeader('Docker-Experimental', 'false');
    res.setHeader('Ostype', 'linux');
    res.setHeader('Server', `Docker/${SERVER_VERSION} (linux)`);
    const method = req.method ?? 'GET';
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://daemon');
    } catch {
      sendJson(res, 400, { message: 'malformed request URL' });
      return;
    }
    const { version, rest, explicit } = splitVersion(url.pathname);
    try {
      if (explicit) checkVersion(version);
      const hit = router.match(method, rest);
      if (hit === 'not-found') throw Object.assign(new Error('page not found'), { statusCode: 404 });
      if (hit === 'bad-method') throw Object.assign(new Error('method not allowed'), { statusCode: 405 });
      const ctx: RequestContext = {
        method,
        path: rest,
        apiVersion: explicit ? version : MAX_API_VERSION,
        query: url.searchParams,
        params: hit.params,
        req,
        res,
        upgrade,
        signal: abort.signal,
        shutdown: shutdown.signal,
      };
      await hit.handler(ctx);
    } catch (err) {
      const { status } = errorResponse(err);
      if (status >= 500) log(`${method} ${url.pathname}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      sendError(res, err);
    }
  };

  return {
    events,
    handle(req, res) {
      dispatch(req, res).catch((err) => {
        log(`unhandled: ${String(err)}`);
        if (!res.headersSent) sendError(res, err);
        else res.destroy();
      });
    },
    handleUpgrade(req, socket, head) {
      // Route hijack requests through the same handlers: a ServerResponse bound to the raw socket
      // answers errors normally, and the attach/exec handlers take the socket over.
      const res = new ServerResponse(req);
      res.shouldKeepAlive = false;
      res.assignSocket(socket as Socket);
      res.on('finish', () => {
        if (!socket.destroyed) socket.end();
      });
      socket.on('error', () => socket.destroy());
      dispatch(req, res, { socket, head }).catch(() => socket.destroy());
    },
    inFlight: () => inFlight,
    beginShutdown: () => shutdown.abort(),
    close() {
      sessions.close();
      svc.buildkit?.close();
    },
  };
}

/** True when `apiVersion` is at least `min` (for version-gated response fields). */
export function atLeast(apiVersion: string, min: string): boolean {
  return compareVersions(apiVersion, min) >= 0;
}
