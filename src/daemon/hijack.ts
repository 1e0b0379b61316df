import type { Duplex, Readable, Writable } from 'node:stream';
import type { RequestContext } from './http.js';
import { readBody } from './http.js';

/** The two directions of an attach/exec stream once the HTTP exchange is over. */
export interface HijackedStream {
  /** Bytes from the client (stdin). Ends when the client half-closes. */
  input: Readable;
  /** Bytes to the client. */
  output: Writable;
  /** End our side; the connection is dropped shortly after if the client does not close it. */
  close(): void;
}

/**
 * Read the JSON body of a request that may be an upgrade (exec start sends its body along with
 * `Upgrade: tcp`; Node hands such a request over unparsed, so the body sits in `head` and the socket).
 */
export async function readUpgradeJson(ctx: RequestContext): Promise<Record<string, unknown>> {
  let raw: Buffer;
  if (!ctx.upgrade) raw = await readBody(ctx.req, 1024 * 1024);
  else {
    const length = Number(ctx.req.headers['content-length'] ?? 0);
    raw = await readExactly(ctx.upgrade, Number.isFinite(length) ? Math.min(length, 1024 * 1024) : 0);
  }
  const text = raw.toString('utf8').trim();
  if (!text) return {};
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    /* fall through */
  }
  throw Object.assign(new Error('invalid JSON body'), { statusCode: 400 });
}

/**
 * Read the request body off an upgraded socket in paused mode (`readable` + `read()`), so that the
 * socket is left neither flowing nor explicitly paused: whoever takes stdin next may attach a
 * `data` listener and get the bytes. (`resume()` then `pause()` would leave it paused for good.)
 */
async function readExactly(up: { socket: Duplex; head: Buffer }, n: number): Promise<Buffer> {
  const { socket } = up;
  while (up.head.length < n) {
    const chunk = await new Promise<Buffer | null>((resolve) => {
      const onReadable = () => {
        const d = socket.read() as Buffer | null;
        if (d === null) return;
        cleanup();
        resolve(d);
      };
      const onEnd = () => {
        cleanup();
        resolve(null);
      };
      const cleanup = () => {
        socket.off('readable', onReadable);
        socket.off('end', onEnd);
        socket.off('close', onEnd);
      };
      socket.on('readable', onReadable);
      socket.once('end', onEnd);
      socket.once('close', onEnd);
      onReadable();
    });
    if (!chunk) break;
    up.head = Buffer.concat([up.head, chunk]);
  }
  const body = up.head.subarray(0, n);
  up.head = up.head.subarray(n);
  return body;
}

/**
 * Take over the connection the way Docker does: `101 UPGRADED` when the client asked to upgrade,
 * otherwise a plain 200 whose body is the stream (dockerode without `hijack`).
 */
export function hijack(ctx: RequestContext, contentType: string): HijackedStream {
  if (ctx.upgrade) {
    const { socket } = ctx.upgrade;
    const head = ctx.upgrade.head;
    socket.write(
      `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: ${ctx.res.getHeader('Api-Version')}\r\n\r\n`,
    );
    // Stop the ServerResponse from ever writing on the socket now that we own it.
    ctx.res.detachSocket(socket as never);
    // Left paused: stdin bytes the client sends before the container starts wait in the socket's
    // buffer for whoever consumes them (callers that want no stdin resume it themselves).
    if (head.length) socket.unshift(head);
    return {
      input: socket,
      output: socket,
      close() {
        if (socket.destroyed) return;
        socket.end();
        setTimeout(() => socket.destroy(), 2000).unref();
      },
    };
  }
  ctx.res.writeHead(200, { 'Content-Type': contentType });
  ctx.res.flushHeaders();
  return {
    input: ctx.req,
    output: ctx.res,
    close() {
      ctx.res.end();
    },
  };
}
