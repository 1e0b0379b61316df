import http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import type { GrpcTransportOptions } from '@connectrpc/connect-node';

export type NodeHttp2ClientSessionManager = NonNullable<GrpcTransportOptions['sessionManager']>;

/**
 * HTTP/2 with prior knowledge on a connection the Engine API has already upgraded (`Upgrade: h2c`),
 * in both directions: on `/grpc` the client speaks first and tbuild serves; on `/session` tbuild
 * is the HTTP/2 client and the Docker CLI serves. Node's http2 module does the framing.
 */

/** Serve HTTP/2 requests arriving on `socket` with `handler` (one server for every such socket). */
export class H2cServer {
  #server: http2.Http2Server;
  #sessions = new Set<http2.ServerHttp2Session>();

  constructor(handler: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void) {
    // Messages up to 16 MiB flow without stalling a 5,000-file context on flow control.
    this.#server = http2.createServer({ settings: { initialWindowSize: 4 << 20 }, maxSessionMemory: 64 }, handler);
    this.#server.on('session', (s) => {
      this.#sessions.add(s);
      s.on('close', () => this.#sessions.delete(s));
      s.on('error', () => s.destroy());
    });
  }

  accept(socket: Duplex, head: Buffer): void {
    if (head.length) socket.unshift(head);
    this.#server.emit('connection', socket);
  }

  close(): void {
    for (const s of this.#sessions) s.destroy();
    this.#server.close();
  }
}

/**
 * A header that carries several values for one gRPC metadata key. Connect joins repeated header
 * values with ", " (web `Headers` semantics), which the Go side would read as one value; fsutil
 * reads include/exclude patterns as separate values, so they travel JSON-encoded under this key and
 * are split into one header field per value just before the request goes out.
 */
export const MULTI_VALUE_HEADER = 'x-tbuild-multi';

/** A connect-node session manager over one already-open HTTP/2 client session. */
export class SocketSessionManager {
  readonly authority = 'http://session';
  readonly session: http2.ClientHttp2Session;

  constructor(socket: Duplex, head: Buffer) {
    if (head.length) socket.unshift(head);
    this.session = http2.connect(this.authority, { createConnection: () => socket, settings: { initialWindowSize: 4 << 20 } });
    this.session.on('error', () => this.session.destroy());
  }

  async request(method: string, path: string, headers: http2.OutgoingHttpHeaders, options: Omit<http2.ClientSessionRequestOptions, 'signal'>): Promise<http2.ClientHttp2Stream> {
    const out: http2.OutgoingHttpHeaders = { ...headers, ':method': method, ':path': path };
    const multi = out[MULTI_VALUE_HEADER];
    if (typeof multi === 'string') {
      delete out[MULTI_VALUE_HEADER];
      for (const [k, values] of Object.entries(JSON.parse(multi) as Record<string, string[]>)) out[k] = values;
    }
    return this.session.request(out, options);
  }

  notifyResponseByteRead(): void {}
}
