import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { TbuildError, ERROR_CODES } from '../errors.js';
import { matchLabel, untilTime, type Filters } from '../util/filters.js';

/** Everything a route handler gets for one request. */
export interface RequestContext {
  method: string;
  /** Path without the `/v1.NN` prefix. */
  path: string;
  /** Negotiated API version of this request. */
  apiVersion: string;
  query: URLSearchParams;
  params: Record<string, string>;
  req: IncomingMessage;
  res: ServerResponse;
  /** Set when the client asked to upgrade the connection (attach / exec start hijack). */
  upgrade?: { socket: Duplex; head: Buffer };
  /** Aborted when the client goes away before the response is finished. */
  signal: AbortSignal;
  /** Aborted when the daemon is shutting down: endless streams (events) end early. */
  shutdown: AbortSignal;
}

export type Handler = (ctx: RequestContext) => Promise<void>;

/** The HTTP status and `{"message"}` body Docker would answer with for an error. */
export function errorResponse(err: unknown): { status: number; message: string } {
  if (err instanceof TbuildError) return { status: err.status, message: err.message };
  const e = err as { statusCode?: unknown; message?: unknown; code?: unknown } | undefined;
  if (e && typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 600) {
    return { status: e.statusCode, message: String(e.message ?? 'error') };
  }
  // An error code from another module that is in the catalogue but not a TbuildError instance
  // (e.g. crossed a realm) still maps to its status.
  if (e && typeof e.code === 'string' && e.code in ERROR_CODES) {
    return { status: ERROR_CODES[e.code as keyof typeof ERROR_CODES], message: String(e.message ?? e.code) };
  }
  return { status: 500, message: err instanceof Error ? err.message : String(err) };
}

export function badRequest(message: string): TbuildError {
  return new TbuildError('TB_API_BAD_REQUEST', message);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  if (!res.headersSent) {
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  }
  res.end(res.req.method === 'HEAD' ? undefined : text);
}

export function sendStatus(res: ServerResponse, status: number): void {
  if (!res.headersSent) res.writeHead(status);
  res.end();
}

export function sendError(res: ServerResponse, err: unknown): void {
  const { status, message } = errorResponse(err);
  if (res.headersSent) {
    // Mid-stream: nothing left but to cut the response short.
    res.destroy();
    return;
  }
  sendJson(res, status, { message });
}

/** Read a whole request body, refusing more than `limit` bytes. */
export async function readBody(req: IncomingMessage, limit = 10 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      throw Object.assign(new Error(`request body too large (limit ${limit} bytes)`), { statusCode: 413 });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Parse a JSON body; an empty body is `{}`. Unknown fields are the caller's to ignore. */
export async function readJson<T = Record<string, unknown>>(req: IncomingMessage, limit?: number): Promise<T> {
  const text = (await readBody(req, limit)).toString('utf8').trim();
  if (!text) return {} as T;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw badRequest(`invalid JSON body: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw badRequest('invalid JSON body: expected an object');
  }
  return value as T;
}

/** Docker's boolean query values: `1`, `true`, `True` are true; absent is the default. */
export function boolParam(q: URLSearchParams, name: string, dflt = false): boolean {
  const v = q.get(name);
  if (v === null) return dflt;
  // Docker's reading: any case (docker-py sends `False`), and `none` is false too
  const l = v.trim().toLowerCase();
  if (l === '') return dflt;
  return !(l === '0' || l === 'false' || l === 'no' || l === 'none');
}

export function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw badRequest(`invalid value for ${name}: ${v}`);
  return n;
}

/** A query value holding JSON (`buildargs`, `labels`); absent or empty is undefined. */
export function jsonParam<T>(q: URLSearchParams, name: string): T | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  try {
    return JSON.parse(v) as T;
  } catch (err) {
    throw badRequest(`invalid JSON in ${name}: ${(err as Error).message}`);
  }
}

/**
 * Docker's `filters` query: `{"label":{"a=b":true}}` (current) or `{"label":["a=b"]}` (old clients).
 * Returns each filter name with its list of values.
 */
export function parseFilters(q: URLSearchParams): Map<string, string[]> {
  const raw = jsonParam<Record<string, unknown>>(q, 'filters');
  const out = new Map<string, string[]>();
  if (!raw || typeof raw !== 'object') return out;
  for (const [key, val] of Object.entries(raw)) {
    if (Array.isArray(val)) out.set(key, val.map(String));
    else if (val && typeof val === 'object') {
      out.set(key, Object.entries(val as Record<string, unknown>).filter(([, on]) => on).map(([k]) => k));
    } else throw badRequest(`invalid filter '${key}'`);
  }
  return out;
}

/** Check filter names against the ones a route supports, as Docker does. */
export function checkFilters(filters: Map<string, string[]>, allowed: string[]): void {
  for (const key of filters.keys()) {
    if (!allowed.includes(key)) throw badRequest(`invalid filter '${key}'`);
  }
}

/** The `until` filter of the list and prune endpoints in ms since the epoch, or undefined. */
export function untilFilter(filters: Filters, now = Date.now()): number | undefined {
  return untilTime(filters, now);
}

export { matchLabel };

/** `?h=ROWS&w=COLS` of the resize endpoints. */
export function ttySizeFromQuery(q: URLSearchParams): { height: number; width: number } {
  const height = Number(q.get('h') ?? NaN);
  const width = Number(q.get('w') ?? NaN);
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 0 || width < 0 || height > 65535 || width > 65535) {
    throw badRequest(`invalid terminal size: h=${q.get('h') ?? ''} w=${q.get('w') ?? ''}`);
  }
  return { height, width };
}

/** `ConsoleSize: [height, width]` of container create and exec create/start; absent or [0, 0] is not given. */
export function consoleSizeParam(v: unknown, field: string): { height: number; width: number } | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length !== 2 || !v.every((n) => Number.isInteger(n) && n >= 0)) throw badRequest(`${field} must be [height, width]`);
  const [height, width] = v as [number, number];
  return height && width ? { height, width } : undefined;
}
