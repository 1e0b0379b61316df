import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { TbuildError } from '../errors.js';
import { SocketSessionManager } from './h2c.js';
import type { ClientSession } from './types.js';

/** 16 MiB: BuildKit's own message limit; a larger one from a client is refused, not buffered. */
export const MAX_MESSAGE_BYTES = 16 << 20;

function header(h: IncomingHttpHeaders, name: string): string {
  const v = h[name];
  return (Array.isArray(v) ? v[0] : v) ?? '';
}

/**
 * Client sessions by id. A Solve names its session, which the client may open just before or just
 * after; `get` waits a little for it, as BuildKit's session manager does.
 */
export class SessionRegistry {
  #sessions = new Map<string, ClientSession>();
  #waiters = new Map<string, Set<(s: ClientSession) => void>>();

  /** Take over an upgraded `/session` connection. */
  attach(socket: Duplex, head: Buffer, headers: IncomingHttpHeaders): ClientSession {
    const id = header(headers, 'x-docker-expose-session-uuid');
    if (!id) throw new TbuildError('TB_BUILDKIT_SESSION', 'a session needs an X-Docker-Expose-Session-Uuid header');
    if (this.#sessions.has(id)) throw new TbuildError('TB_BUILDKIT_SESSION', `session ${id} is already connected`);
    const raw = headers['x-docker-expose-session-grpc-method'];
    const methods = new Set((Array.isArray(raw) ? raw : [raw ?? '']).flatMap((v) => v.split(',')).map((m) => m.trim()).filter(Boolean));
    const manager = new SocketSessionManager(socket, head);
    const abort = new AbortController();
    const session: ClientSession = {
      id,
      name: header(headers, 'x-docker-expose-session-name'),
      sharedKey: header(headers, 'x-docker-expose-session-sharedkey'),
      methods,
      transport: createGrpcTransport({ baseUrl: manager.authority, sessionManager: manager, readMaxBytes: MAX_MESSAGE_BYTES }),
      signal: abort.signal,
      close: () => manager.session.destroy(),
    };
    const gone = () => {
      if (this.#sessions.get(id) === session) this.#sessions.delete(id);
      abort.abort(new TbuildError('TB_BUILDKIT_SESSION', `session ${id} closed`));
    };
    manager.session.once('close', gone);
    socket.once('close', () => {
      manager.session.destroy();
      gone();
    });
    this.#sessions.set(id, session);
    for (const w of this.#waiters.get(id) ?? []) w(session);
    this.#waiters.delete(id);
    return session;
  }

  async get(id: string, timeoutMs: number, signal?: AbortSignal): Promise<ClientSession> {
    if (!id) throw new TbuildError('TB_BUILDKIT_SESSION', 'the request names no session');
    const found = this.#sessions.get(id);
    if (found) return found;
    return new Promise((resolve, reject) => {
      const set = this.#waiters.get(id) ?? new Set();
      this.#waiters.set(id, set);
      const done = (s: ClientSession) => {
        cleanup();
        resolve(s);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new TbuildError('TB_BUILDKIT_SESSION', `no active session for ${id}: the client did not connect within ${timeoutMs / 1000}s`));
      }, timeoutMs);
      const onAbort = () => {
        cleanup();
        reject(signal?.reason);
      };
      const cleanup = () => {
        clearTimeout(timer);
        set.delete(done);
        if (!set.size) this.#waiters.delete(id);
        signal?.removeEventListener('abort', onAbort);
      };
      set.add(done);
      signal?.addEventListener('abort', onAbort);
    });
  }

  close(): void {
    for (const s of this.#sessions.values()) s.close();
    this.#sessions.clear();
  }
}
