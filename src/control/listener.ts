import { chmod, readFile, rm } from 'node:fs/promises';
import http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { TbuildError } from '../errors.js';

/**
 * BuildKit's API on a listener of its own (`tbuild daemon --buildkit-addr`), as buildkitd serves
 * it, so `docker buildx create --driver remote tcp://HOST:PORT` makes a tbuild daemon a builder.
 * TCP is mutual TLS only (a builder runs arbitrary RUN steps as root); a unix socket is h2c.
 */
export interface BuildkitListenerTls {
  ca: string;
  cert: string;
  key: string;
}

type Handler = (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void;

export async function listenBuildkit(
  handler: Handler,
  addr: string,
  tls: BuildkitListenerTls | undefined,
  priorKnowledge: (socket: Duplex) => void,
): Promise<{ address: string; close(): Promise<void> }> {
  const m = /^(tcp|unix):\/\/(.+)$/.exec(addr);
  if (!m) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid --buildkit-addr ${addr}: expected tcp://HOST:PORT or unix:///path`);
  let server: http2.Http2Server | http2.Http2SecureServer;
  let listenArgs: [number, string] | [string];
  if (m[1] === 'tcp') {
    if (!tls) throw new TbuildError('TB_INVALID_ARGUMENT', `refusing to serve BuildKit's API on ${addr} without mutual TLS: give --tlsverify --tlscacert --tlscert --tlskey`);
    const hp = /^\[?([^\]]*)\]?:(\d+)$/.exec(m[2]!);
    if (!hp) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid --buildkit-addr ${addr}: expected tcp://HOST:PORT`);
    server = http2.createSecureServer(
      { ca: await readFile(tls.ca), cert: await readFile(tls.cert), key: await readFile(tls.key), requestCert: true, rejectUnauthorized: true, allowHTTP1: false, settings: { initialWindowSize: 4 << 20 } },
      handler,
    );
    // buildx's remote driver does its own TLS without offering ALPN, then speaks HTTP/2 at once (as
    // Go's gRPC server accepts): such a connection is served with prior knowledge.
    server.on('unknownProtocol', (socket: TLSSocket) => {
      if (socket.alpnProtocol === false) {
        // Node's HTTP/2 session setup reads the socket's ALPN result to decide it may speak h2;
        // the client's first bytes (the h2 preface) are what settle it here.
        socket.alpnProtocol = 'h2';
        priorKnowledge(socket);
      }
      else socket.destroy();
    });
    listenArgs = [Number(hp[2]), hp[1]!];
  } else {
    server = http2.createServer({ settings: { initialWindowSize: 4 << 20 } }, handler);
    await rm(m[2]!, { force: true });
    listenArgs = [m[2]!];
  }
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
    s.on('error', () => s.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    (server.listen as (...a: unknown[]) => void)(...listenArgs, () => {
      server.off('error', reject);
      resolve();
    });
  });
  if (m[1] === 'unix') await chmod(m[2]!, 0o660);
  const a = server.address();
  const address = typeof a === 'string' ? `unix://${a}` : a ? `tcp://${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}` : addr;
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}
