import http from 'node:http';
import type { JsonMessage } from '../../api/wire/json-message.js';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { Duplex, Writable, type Readable } from 'node:stream';
import { TbuildError, type ErrorCode } from '../../errors.js';
import { parseAddress, formatAddress, type DaemonAddress } from '../../api/wire/address.js';

/** The newest Engine API version this client speaks; `_ping` may negotiate it down. */
export const CLIENT_API_VERSION = '1.47';

export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

export interface ClientOptions {
  /** `unix:///path`, `/path`, `tcp://host:port`, `https://host:port`. */
  host: string;
  /** Client certificate and CA; when set (or the scheme is https), TCP goes over TLS. */
  tls?: TlsFiles;
}

export type { JsonMessage };

export type Body = Buffer | string | Readable | Record<string, unknown> | unknown[] | undefined;

export interface RequestOptions {
  query?: Record<string, string | number | boolean | string[] | undefined>;
  body?: Body;
  headers?: Record<string, string>;
  /** Abort the request (and its response stream). */
  signal?: AbortSignal;
  /** Per-request connect/response timeout, in ms (none by default: builds and waits are long). */
  timeoutMs?: number;
}

/** The connection a hijacked attach/exec leaves us: raw bytes both ways. */
export interface HijackedConnection {
  socket: Duplex;
  /** Whether the stream is multiplexed (8-byte frame headers) or raw (a TTY). */
  multiplexed: boolean;
}

function queryString(q: RequestOptions['query']): string {
  if (!q) return '';
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) sp.append(k, x);
    else sp.append(k, typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
  }
  const s = sp.toString();
  return s ? `?${s}` : '';
}

/** Which resource a path is about, for mapping a bare status back to an error code. */
function resourceOf(path: string): 'image' | 'container' | 'exec' | 'volume' | 'build' | 'other' {
  const p = path.replace(/^\/v[\d.]+/, '');
  if (p.startsWith('/images') || p.startsWith('/commit')) return 'image';
  if (p.startsWith('/containers')) return 'container';
  if (p.startsWith('/exec')) return 'exec';
  if (p.startsWith('/volumes')) return 'volume';
  if (p.startsWith('/build')) return 'build';
  return 'other';
}

/**
 * The daemon answers with a status and `{"message"}`; turn that back into the coded error the
 * embedded engine would have thrown. The message decides first (a create can 404 on its image),
 * the path second.
 */
export function errorFromResponse(status: number, message: string, path: string): TbuildError {
  const res = resourceOf(path);
  let code: ErrorCode = 'TB_INTERNAL';
  if (status === 404) {
    if (/^No such image/i.test(message) || /pull access denied/i.test(message)) code = 'TB_IMAGE_NOT_FOUND';
    else if (/^No such container/i.test(message)) code = 'TB_CONTAINER_NOT_FOUND';
    else if (/^(get .*: )?no such volume/i.test(message)) code = 'TB_VOLUME_NOT_FOUND';
    else if (res === 'image') code = 'TB_IMAGE_NOT_FOUND';
    else if (res === 'container' || res === 'exec') code = 'TB_CONTAINER_NOT_FOUND';
    else if (res === 'volume') code = 'TB_VOLUME_NOT_FOUND';
    else code = 'TB_API_NOT_FOUND';
  } else if (status === 409) {
    if (/already in use/i.test(message) && res === 'container') code = 'TB_CONTAINER_NAME_IN_USE';
    else if (res === 'image' || /image is being used|unable to (delete|remove)/i.test(message)) code = /ambiguous|multiple/i.test(message) ? 'TB_IMAGE_AMBIGUOUS' : 'TB_IMAGE_IN_USE';
    else if (res === 'volume') code = 'TB_VOLUME_IN_USE';
    else if (res === 'container' || res === 'exec') code = 'TB_CONTAINER_STATE';
    else code = 'TB_LOCKED';
  } else if (status === 400) {
    code = /version/i.test(message) && /client version/i.test(message) ? 'TB_API_VERSION' : 'TB_INVALID_ARGUMENT';
  }
  return new TbuildError(code, message, { details: { status } });
}

function unreachable(addr: DaemonAddress, err: Error): TbuildError {
  return new TbuildError(
    'TB_DAEMON_UNREACHABLE',
    `Cannot connect to the tbuild daemon at ${formatAddress(addr)}. Is the daemon running? (${(err as NodeJS.ErrnoException).code ?? err.message})`,
    { cause: err },
  );
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/**
 * A small Docker Engine API client on node:http: unix socket or TCP (TLS when given certs),
 * version negotiated through `_ping`, JSON and JSON-message streams, hijacked attach/exec.
 */
export class EngineClient {
  readonly address: DaemonAddress;
  readonly #tls: { ca?: Buffer; cert?: Buffer; key?: Buffer } | undefined;
  readonly #agent: http.Agent;
  #version = CLIENT_API_VERSION;

  constructor(opts: ClientOptions) {
    this.address = parseAddress(opts.host);
    const wantTls = Boolean(opts.tls) || opts.host.startsWith('https://');
    if (wantTls && this.address.kind === 'tcp') {
      const read = (f?: string) => (f ? readFileSync(f) : undefined);
      this.#tls = { ca: read(opts.tls?.ca), cert: read(opts.tls?.cert), key: read(opts.tls?.key) };
      this.#agent = new https.Agent({ keepAlive: true, ...this.#tls });
    } else {
      this.#agent = new http.Agent({ keepAlive: true });
    }
  }

  /** The API version requests are sent with. */
  get apiVersion(): string {
    return this.#version;
  }

  /** `GET /_ping`; adopts the daemon's API version when it is older than ours. */
  async ping(timeoutMs?: number): Promise<{ apiVersion: string }> {
    const res = await this.#send('GET', '/_ping', { timeoutMs }, false);
    await readAll(res);
    if (res.statusCode !== 200) throw errorFromResponse(res.statusCode ?? 500, `ping answered ${res.statusCode}`, '/_ping');
    const server = String(res.headers['api-version'] ?? '');
    if (/^\d+\.\d+$/.test(server) && compare(server, CLIENT_API_VERSION) < 0) this.#version = server;
    return { apiVersion: this.#version };
  }

  /** A request whose response status has been checked; the caller reads (or drains) the body. */
  async request(method: string, path: string, opts: RequestOptions = {}): Promise<http.IncomingMessage> {
    const res = await this.#send(method, path, opts, true);
    const status = res.statusCode ?? 500;
    if (status >= 400) {
      const text = (await readAll(res)).toString('utf8');
      let message = text.trim();
      try {
        const parsed = JSON.parse(text) as { message?: unknown };
        if (typeof parsed.message === 'string') message = parsed.message;
      } catch {
        /* not JSON: keep the text */
      }
      throw errorFromResponse(status, message || `${method} ${path}: HTTP ${status}`, path);
    }
    return res;
  }

  /** A JSON answer (an empty body is `undefined`). */
  async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.request(method, path, opts);
    const text = (await readAll(res)).toString('utf8').trim();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Send and discard the answer (204s, 304s). Returns the status. */
  async call(method: string, path: string, opts: RequestOptions = {}): Promise<number> {
    const res = await this.request(method, path, opts);
    await readAll(res);
    return res.statusCode ?? 0;
  }

  /** Each message of a JSON-message stream (build, load, import), as it arrives. */
  async *messages(method: string, path: string, opts: RequestOptions = {}): AsyncGenerator<JsonMessage> {
    const res = await this.request(method, path, opts);
    let buf = '';
    for await (const chunk of res as AsyncIterable<Buffer>) {
      buf += chunk.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line) yield parseMessage(line);
      }
    }
    if (buf.trim()) yield parseMessage(buf.trim());
  }

  /**
   * Upgrade the connection (`Connection: Upgrade`, `Upgrade: tcp`) for attach and exec start.
   * Resolves once the daemon has switched protocols; an error status rejects like `request`.
   */
  hijack(method: string, path: string, opts: RequestOptions = {}): Promise<HijackedConnection> {
    const { req, body } = this.#prepare(method, path, { ...opts, headers: { ...opts.headers, Connection: 'Upgrade', Upgrade: 'tcp' } }, false);
    return new Promise<HijackedConnection>((resolve, reject) => {
      req.on('upgrade', (res, socket, head) => {
        if (head.length) socket.unshift(head);
        const type = String(res.headers['content-type'] ?? '');
        resolve({ socket, multiplexed: type.includes('multiplexed') });
      });
      req.on('response', (res) => {
        // An error before the switch, or a daemon that streams without upgrading.
        const status = res.statusCode ?? 500;
        if (status >= 400) {
          readAll(res).then((buf) => {
            let message = buf.toString('utf8').trim();
            try {
              message = (JSON.parse(message) as { message?: string }).message ?? message;
            } catch {
              /* keep text */
            }
            reject(errorFromResponse(status, message, path));
          }, reject);
          return;
        }
        // No switch: the body is the stream, and there is no way to send stdin.
        const type = String(res.headers['content-type'] ?? '');
        const sink = new Writable({ write: (_c, _e, cb) => cb() });
        resolve({ socket: Duplex.from({ readable: res, writable: sink }), multiplexed: type.includes('multiplexed') });
      });
      req.on('error', (err) => reject(this.#connectError(err)));
      writeBody(req, body);
    });
  }

  /** Drop pooled connections so the process can exit. */
  close(): void {
    this.#agent.destroy();
  }

  #connectError(err: Error): Error {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED' || code === 'ENOENT' || code === 'EACCES' || code === 'EHOSTUNREACH' || code === 'ETIMEDOUT' || code === 'ENOTSOCK') {
      return unreachable(this.address, err);
    }
    return err;
  }

  #prepare(method: string, path: string, opts: RequestOptions, versioned: boolean): { req: http.ClientRequest; body: Body } {
    const full = (versioned ? `/v${this.#version}` : '') + path + queryString(opts.query);
    const headers: Record<string, string> = { ...opts.headers };
    let body = opts.body;
    if (body !== undefined && !isStream(body) && !Buffer.isBuffer(body) && typeof body !== 'string') {
      body = JSON.stringify(body);
      headers['Content-Type'] ??= 'application/json';
    }
    if (typeof body === 'string' || Buffer.isBuffer(body)) headers['Content-Length'] = String(Buffer.byteLength(body));
    const base = this.address.kind === 'unix' ? { socketPath: this.address.path, host: 'localhost' } : { host: this.address.host, port: this.address.port };
    const mod = this.#tls ? https : http;
    const upgrading = headers.Upgrade !== undefined;
    const req = mod.request({
      ...base,
      method,
      path: full,
      headers,
      // Upgraded connections leave the pool for good; never hand them a pooled socket.
      agent: upgrading ? false : this.#agent,
      ...(upgrading && this.#tls ? this.#tls : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    if (opts.timeoutMs) {
      req.setTimeout(opts.timeoutMs, () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    }
    return { req, body };
  }

  #send(method: string, path: string, opts: RequestOptions, versioned: boolean): Promise<http.IncomingMessage> {
    const { req, body } = this.#prepare(method, path, opts, versioned);
    return new Promise((resolve, reject) => {
      req.on('response', (res) => {
        if (opts.timeoutMs) req.setTimeout(0);
        resolve(res);
      });
      req.on('error', (err) => reject(this.#connectError(err)));
      writeBody(req, body);
    });
  }
}

/** Node streams and streamx ones (tar-stream's pack) alike: anything that pipes. */
function isStream(body: Body): body is Readable {
  return typeof (body as { pipe?: unknown } | undefined)?.pipe === 'function';
}

function writeBody(req: http.ClientRequest, body: Body): void {
  if (isStream(body)) {
    body.on('error', (err) => req.destroy(err));
    body.pipe(req);
  } else {
    req.end(body as Buffer | string | undefined);
  }
}

function parseMessage(line: string): JsonMessage {
  try {
    return JSON.parse(line) as JsonMessage;
  } catch {
    return { stream: `${line}\n` };
  }
}

function compare(a: string, b: string): number {
  const [a1, a2] = a.split('.').map(Number) as [number, number];
  const [b1, b2] = b.split('.').map(Number) as [number, number];
  return a1 !== b1 ? a1 - b1 : a2 - b2;
}
