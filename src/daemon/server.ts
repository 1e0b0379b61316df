import http from 'node:http';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { chmod, mkdir, readFile, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { TbuildError } from '../errors.js';
import { createApp, type App } from './app.js';
import { acquireDaemonLock } from './lock.js';
import { formatAddress, isLoopback, parseAddress, type DaemonAddress } from '../api/wire/address.js';
import type { DaemonServices } from './types.js';

export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

export interface DaemonOptions {
  /** `unix:///path` and/or `tcp://host:port` addresses. */
  hosts: string[];
  /** State root: the lock lives here. */
  root: string;
  /** Serve TCP over TLS and require client certificates signed by `ca`. */
  tls?: TlsFiles;
  /** `--tls=false` given explicitly: plain TCP allowed (a loud warning is logged). */
  insecureTcp?: boolean;
  services: DaemonServices;
  log?: (line: string) => void;
  /** Log every request with its status and duration. */
  accessLog?: boolean;
  /** How long a graceful stop waits for requests in flight (ms). */
  shutdownGraceMs?: number;
}

/**
 * Refuse what must not listen: plain TCP on any address, loopback included (every local user can
 * reach loopback, and the API is root), unless the user said `--tls=false`. Checked before
 * anything is bound.
 */
export function validateHosts(hosts: string[], tls: boolean, insecureTcp = false): DaemonAddress[] {
  const addrs = hosts.map(parseAddress);
  for (const a of addrs) {
    if (a.kind === 'tcp' && !tls && !insecureTcp) {
      throw new TbuildError(
        'TB_INSECURE_TRANSPORT',
        `refusing to listen on ${formatAddress(a)} without TLS: anyone who can connect${isLoopback(a.host) ? ' (every local user, on loopback)' : ''} would control this machine as root; use --tlsverify --tlscacert --tlscert --tlskey, or --tls=false to accept the risk`,
      );
    }
  }
  return addrs;
}

/** Logged for every plain TCP listener the user asked for with --tls=false. */
export function insecureListenWarning(address: string): string {
  return `WARNING: API listening on ${address} WITHOUT TLS (--tls=false): anyone who can connect controls this machine as root`;
}

/** Is something answering on this unix socket? */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** The Engine API daemon: listeners, the state-root lock, and a graceful stop. */
export class Daemon {
  readonly app: App;
  readonly addresses: string[];
  #servers: http.Server[];
  #sockets: string[];
  #release: () => Promise<void>;
  #graceMs: number;
  #connections = new Set<Socket>();
  #stopping: Promise<void> | undefined;

  private constructor(app: App, servers: http.Server[], addresses: string[], sockets: string[], release: () => Promise<void>, graceMs: number) {
    this.app = app;
    this.#servers = servers;
    this.addresses = addresses;
    this.#sockets = sockets;
    this.#release = release;
    this.#graceMs = graceMs;
    for (const s of servers) {
      s.on('connection', (c: Socket) => {
        this.#connections.add(c);
        c.on('close', () => this.#connections.delete(c));
      });
    }
  }

  static async start(opts: DaemonOptions): Promise<Daemon> {
    const addrs = validateHosts(opts.hosts, Boolean(opts.tls), Boolean(opts.insecureTcp));
    const log = opts.log ?? (() => {});
    await mkdir(opts.root, { recursive: true, mode: 0o711 });
    const lock = await acquireDaemonLock(opts.root);
    const servers: http.Server[] = [];
    const sockets: string[] = [];
    const listening: string[] = [];
    const app = createApp(opts.services, { log, accessLog: opts.accessLog });
    try {
      const tlsOptions = opts.tls
        ? {
            ca: await readFile(opts.tls.ca),
            cert: await readFile(opts.tls.cert),
            key: await readFile(opts.tls.key),
            requestCert: true,
            rejectUnauthorized: true,
            // As node:http's server is: a client's half-close (the Docker CLI shuts its TCP write
            // side when stdin ends) must leave our side open for the output still to come.
            allowHalfOpen: true,
          }
        : undefined;
      // node:https pulls in the TLS stack (~1 MB resident): load it only when TLS is configured.
      const https = tlsOptions ? (await import('node:https')).default : undefined;
      for (const a of addrs) {
        const server =
          a.kind === 'tcp' && tlsOptions && https ? https.createServer(tlsOptions) : http.createServer();
        // Builds and followed streams run for as long as they run.
        server.requestTimeout = 0;
        server.headersTimeout = 60_000;
        // Idle keep-alive connections stay open, as dockerd's do: a server that closes them after
        // 5 s races Node's own agent (its idle sockets live 5 s too), whose request on a socket the
        // server has just closed fails as "socket hang up".
        server.keepAliveTimeout = 0;
        server.timeout = 0;
        server.on('request', (req, res) => app.handle(req, res));
        server.on('upgrade', (req, socket, head) => app.handleUpgrade(req, socket, head));
        server.on('clientError', (_err, socket) => {
          if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
          else socket.destroy();
        });
        if (a.kind === 'unix') {
          await prepareSocketPath(a.path);
          await listen(server, { path: a.path });
          await chmod(a.path, 0o660);
          sockets.push(a.path);
        } else {
          await listen(server, { host: a.host, port: a.port });
        }
        servers.push(server);
        const bound = server.address();
        listening.push(a.kind === 'tcp' && bound && typeof bound === 'object' ? formatAddress({ ...a, port: bound.port }) : formatAddress(a));
        log(`API listen on ${listening.at(-1)}`);
        if (a.kind === 'tcp' && !tlsOptions) log(insecureListenWarning(listening.at(-1)!));
      }
    } catch (err) {
      for (const s of servers) s.close();
      for (const p of sockets) await unlink(p).catch(() => {});
      await lock.release();
      throw err;
    }
    return new Daemon(app, servers, listening, sockets, lock.release, opts.shutdownGraceMs ?? 10_000);
  }

  /** Stop accepting, let requests in flight finish (up to the grace period), release the lock. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    const closed = this.#servers.map((s) => new Promise<void>((r) => s.close(() => r())));
    for (const s of this.#servers) s.closeIdleConnections();
    this.app.beginShutdown();
    const deadline = Date.now() + this.#graceMs;
    while (this.app.inFlight() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    for (const c of this.#connections) c.destroy();
    await Promise.all(closed);
    this.app.close();
    for (const p of this.#sockets) await unlink(p).catch(() => {});
    await this.#release();
  }
}

function listen(server: http.Server, where: { path: string } | { host: string; port: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(where, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Remove a stale socket file (nothing answers on it); refuse when another server is live there. */
async function prepareSocketPath(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const st = await stat(path).catch(() => undefined);
  if (!st) return;
  if (!st.isSocket()) throw new TbuildError('TB_INVALID_ARGUMENT', `${path} exists and is not a socket`);
  if (await socketAnswers(path)) throw new TbuildError('TB_LOCKED', `something is already listening on ${path}`);
  await unlink(path);
}
