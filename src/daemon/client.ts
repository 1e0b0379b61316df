import http from 'node:http';
import type { Readable } from 'node:stream';
import { TbuildError } from '../errors.js';
import { parseAddress } from './address.js';
import { MAX_API_VERSION } from './version.js';
import type { JsonMessage } from './json-message.js';

export interface ClientRequest {
  method?: string;
  path: string;
  query?: Record<string, string | string[] | number | boolean | undefined>;
  /** JSON body (serialized), or a stream / bytes sent as is. */
  json?: unknown;
  body?: Readable | Buffer;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/**
 * A minimal Engine API client over a unix socket or loopback TCP: what the `tbuild` CLI needs to
 * drive a running daemon instead of opening the state root itself.
 */
export class DaemonClient {
  readonly #target: { socketPath: string } | { host: string; port: number };
  #version: string = MAX_API_VERSION;

  constructor(address: string) {
    const a = parseAddress(address);
    this.#target = a.kind === 'unix' ? { socketPath: a.path } : { host: a.host, port: a.port };
  }

  /** Ping and negotiate the API version (the lower of ours and the daemon's). */
  async ping(): Promise<{ apiVersion: string }> {
    const res = await this.#raw({ method: 'GET', path: '/_ping' }, false);
    res.resume();
    const v = String(res.headers['api-version'] ?? MAX_API_VERSION);
    if (v.localeCompare(this.#version, undefined, { numeric: true }) < 0) this.#version = v;
    return { apiVersion: this.#version };
  }

  /** Is something answering at this address? */
  async alive(): Promise<boolean> {
    try {
      await this.ping();
      return true;
    } catch {
      return false;
    }
  }

  /** A request whose answer is JSON; non-2xx answers throw with the daemon's message. */
  async json<T>(req: ClientRequest): Promise<T> {
    const res = await this.stream(req);
    const text = await readAll(res);
    return (text.length ? JSON.parse(text.toString('utf8')) : undefined) as T;
  }

  /** The raw response of a successful request (streams: build, logs, save). */
  async stream(req: ClientRequest): Promise<http.IncomingMessage> {
    const res = await this.#raw(req, true);
    const status = res.statusCode ?? 0;
    if (status >= 400) {
      const text = (await readAll(res)).toString('utf8');
      let message = text;
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? text;
      } catch {
        /* plain text */
      }
      throw Object.assign(new TbuildError(codeFor(status), message), { statusCode: status });
    }
    return res;
  }

  /** Read a JSON-message stream, calling `onMessage` for each; throws on an error message. */
  async messages(req: ClientRequest, onMessage: (m: JsonMessage) => void): Promise<void> {
    const res = await this.stream(req);
    let buf = '';
    let failure: JsonMessage | undefined;
    for await (const chunk of res as AsyncIterable<Buffer>) {
      buf += chunk.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        const m = JSON.parse(line) as JsonMessage;
        if (m.error) failure = m;
        onMessage(m);
      }
    }
    if (failure) {
      throw new TbuildError('TB_BUILD_FAILED', failure.error!, { details: { exitCode: failure.errorDetail?.code } });
    }
  }

  #raw(req: ClientRequest, versioned: boolean): Promise<http.IncomingMessage> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(req.query ?? {})) {
      if (v === undefined) continue;
      for (const x of Array.isArray(v) ? v : [v]) qs.append(k, typeof x === 'boolean' ? (x ? '1' : '0') : String(x));
    }
    const path = `${versioned ? `/v${this.#version}` : ''}${req.path}${qs.size ? `?${qs}` : ''}`;
    const headers: Record<string, string> = { Host: 'docker', ...req.headers };
    let payload: Buffer | Readable | undefined = req.body;
    if (req.json !== undefined) {
      payload = Buffer.from(JSON.stringify(req.json));
      headers['Content-Type'] = 'application/json';
    }
    if (Buffer.isBuffer(payload)) headers['Content-Length'] = String(payload.length);
    return new Promise((resolve, reject) => {
      const r = http.request({ ...this.#target, method: req.method ?? 'GET', path, headers, signal: req.signal }, resolve);
      r.on('error', reject);
      if (payload === undefined || Buffer.isBuffer(payload)) r.end(payload);
      else {
        payload.on('error', (err) => r.destroy(err));
        payload.pipe(r);
      }
    });
  }
}

function codeFor(status: number): 'TB_API_NOT_FOUND' | 'TB_API_BAD_REQUEST' | 'TB_INTERNAL' | 'TB_CONTAINER_STATE' {
  if (status === 404) return 'TB_API_NOT_FOUND';
  if (status === 409) return 'TB_CONTAINER_STATE';
  if (status < 500) return 'TB_API_BAD_REQUEST';
  return 'TB_INTERNAL';
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}
