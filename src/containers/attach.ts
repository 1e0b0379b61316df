import { createServer, connect, type Server, type Socket } from 'node:net';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { rm } from 'node:fs/promises';

/**
 * The shim's attach socket. A client sends one JSON line (`{"stdin":true}`), then raw stdin bytes
 * (half-closing when its input ends). The shim sends frames: 8-byte header (stream type, 3 zero
 * bytes, big-endian length) then the payload, like Docker's multiplexed stream; type 3 carries the
 * exit status as JSON and is the last frame.
 */
export const FRAME_STDOUT = 1;
export const FRAME_STDERR = 2;
export const FRAME_EXIT = 3;

/** A unix socket path must fit in 108 bytes; fall back to a short hashed name under /tmp. */
export function attachSocketPath(containerDir: string): string {
  const p = join(containerDir, 'attach.sock');
  if (Buffer.byteLength(p) < 100) return p;
  return join('/tmp', `tbuild-${createHash('sha256').update(p).digest('hex').slice(0, 20)}.sock`);
}

export function frame(type: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = type;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

interface Client {
  socket: Socket;
  stdin: boolean;
}

export class AttachServer {
  readonly path: string;
  /** The container's stdin: what attached clients type. */
  readonly stdin = new PassThrough();
  readonly #server: Server;
  readonly #clients = new Set<Client>();
  readonly #stdinOnce: boolean;
  readonly #tty: boolean;
  #firstClient!: () => void;
  readonly firstClient = new Promise<void>((r) => (this.#firstClient = r));

  constructor(path: string, opts: { stdinOnce: boolean; tty: boolean }) {
    this.path = path;
    this.#stdinOnce = opts.stdinOnce;
    this.#tty = opts.tty;
    this.#server = createServer({ allowHalfOpen: true }, (s) => this.#accept(s));
  }

  async listen(): Promise<void> {
    await rm(this.path, { force: true });
    this.#server.listen(this.path);
    await once(this.#server, 'listening');
  }

  #accept(socket: Socket): void {
    socket.on('error', () => {});
    let head = Buffer.alloc(0);
    let client: Client | undefined;
    socket.on('data', (d: Buffer) => {
      if (client) {
        if (client.stdin && !this.stdin.writableEnded) this.stdin.write(d);
        return;
      }
      head = Buffer.concat([head, d]);
      const nl = head.indexOf(10);
      if (nl < 0) return;
      let hello: { stdin?: boolean } = {};
      try {
        hello = JSON.parse(head.subarray(0, nl).toString()) as { stdin?: boolean };
      } catch {
        // a bad hello attaches output only
      }
      client = { socket, stdin: Boolean(hello.stdin) };
      this.#clients.add(client);
      const rest = head.subarray(nl + 1);
      if (client.stdin && rest.length) this.stdin.write(rest);
      this.#firstClient();
    });
    socket.on('end', () => {
      if (!client?.stdin) return;
      // Docker: with a tty, a client whose input ends detaches (the container's stdin stays open,
      // so Ctrl-P Ctrl-Q in a client that then hangs up leaves the container running); without
      // one, a `stdinOnce` container's stdin closes with its first client's.
      if (this.#tty) {
        this.#clients.delete(client);
        socket.end();
      } else if (this.#stdinOnce) this.stdin.end();
    });
    socket.on('close', () => {
      if (client) this.#clients.delete(client);
    });
  }

  send(type: number, data: Buffer): void {
    const f = frame(type, data);
    for (const c of this.#clients) if (!c.socket.destroyed) c.socket.write(f);
  }

  /** Send the exit frame, end every connection and stop listening. */
  async finish(status: { exitCode: number }): Promise<void> {
    const f = frame(FRAME_EXIT, Buffer.from(JSON.stringify(status)));
    await Promise.all(
      [...this.#clients].map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.socket.destroyed) return resolve();
            c.socket.end(f, () => resolve());
            setTimeout(resolve, 2000).unref();
          }),
      ),
    );
    this.#server.close();
    await rm(this.path, { force: true });
  }
}

export interface AttachIO {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
}

/**
 * Attach to a shim. Resolves once the hello is sent; `done` resolves with the exit status when the
 * shim reports it (undefined when the connection ends without one). Without stdin the client
 * half-closes right after its hello, so nothing it holds keeps the connection open: it closes as
 * soon as the shim ends its side. `alive` (the shim's liveness) stops the connect retries early
 * when there is no shim left to listen.
 */
export async function attachClient(
  path: string,
  io: AttachIO,
  opts: { timeoutMs?: number; alive?: () => boolean } = {},
): Promise<{ done: Promise<{ exitCode: number } | undefined>; close: () => void }> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let socket: Socket;
  // The shim is a fresh process that listens within tens of ms: retry often, not exponentially.
  for (let delay = 2; ; delay = Math.min(delay * 2, 10)) {
    try {
      socket = await new Promise<Socket>((resolve, reject) => {
        const s = connect({ path, allowHalfOpen: true });
        s.once('connect', () => resolve(s));
        s.once('error', reject);
      });
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      if (opts.alive && !opts.alive()) return { done: Promise.resolve(undefined), close: () => {} };
      await new Promise((r) => setTimeout(r, delay));
    }
  }
  socket.on('error', () => {});
  const hello = JSON.stringify({ stdin: Boolean(io.stdin) }) + '\n';
  const onData = (d: Buffer) => {
    if (!socket.destroyed) socket.write(d);
  };
  const onEnd = () => {
    if (!socket.destroyed) socket.end();
  };
  if (io.stdin) {
    socket.write(hello);
    io.stdin.on('data', onData);
    io.stdin.once('end', onEnd);
  } else {
    socket.end(hello);
  }
  const done = new Promise<{ exitCode: number } | undefined>((resolve) => {
    let buf: Buffer = Buffer.alloc(0);
    let status: { exitCode: number } | undefined;
    socket.on('data', (d: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      while (buf.length >= 8) {
        const len = buf.readUInt32BE(4);
        if (buf.length < 8 + len) break;
        const type = buf[0];
        const payload = buf.subarray(8, 8 + len);
        buf = buf.subarray(8 + len);
        if (type === FRAME_STDOUT) io.stdout?.write(payload);
        else if (type === FRAME_STDERR) io.stderr?.write(payload);
        else if (type === FRAME_EXIT) status = JSON.parse(payload.toString()) as { exitCode: number };
      }
    });
    // The shim ends its side after the exit frame; with allowHalfOpen ours stays open until told.
    socket.once('end', () => socket.end());
    socket.once('close', () => {
      io.stdin?.off('data', onData);
      io.stdin?.off('end', onEnd);
      resolve(status);
    });
  });
  return { done, close: () => socket.destroy() };
}
