import { readdir, readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import type { Readable } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';
import { TbuildError } from '../errors.js';
import type { RegistryOptions } from './types.js';

/**
 * HTTP to registries: one keep-alive undici Agent per host (with that host's certs.d CAs and client
 * certificate), the scheme chosen Docker's way, redirects followed by hand so that Authorization
 * never travels to another host, bounded retries for idempotent requests whose connection fails.
 */

export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  body?: Buffer | Readable;
  /** Default: GET and HEAD are. A failed connection is retried only for idempotent requests. */
  idempotent?: boolean;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable & { dump(): Promise<void>; text(): Promise<string> };
  /** The URL that answered (after redirects). */
  url: string;
}

const MAX_REDIRECTS = 5;
export const DEFAULT_CERTS_DIR = '/etc/docker/certs.d';

/** `docker.io` is served from registry-1.docker.io. */
export function apiHost(domain: string): string {
  return domain === 'docker.io' ? 'registry-1.docker.io' : domain;
}

function hostOnly(host: string): string {
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']'));
  const i = host.lastIndexOf(':');
  return i > 0 && host.indexOf(':') === i ? host.slice(0, i) : host;
}

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((a, p) => (a << 8) + Number(p), 0) >>> 0;
}

function inCidr(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  if (isIP(ip) !== 4 || isIP(base ?? '') !== 4 || !(bits >= 0 && bits <= 32)) return false;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (ipv4ToInt(ip) & mask) === (ipv4ToInt(base!) & mask);
}

/**
 * Whether plain HTTP (or TLS without verification) is allowed for `host` ("host[:port]"): loopback
 * registries always, as dockerd's default insecure CIDR 127.0.0.0/8 (and `localhost`, which
 * resolves there), and whatever `insecure` lists by host, host:port or CIDR.
 */
export function isInsecureHost(host: string, insecure: readonly string[] = []): boolean {
  const name = hostOnly(host);
  if (name === 'localhost' || name === '::1' || inCidr(name, '127.0.0.0/8')) return true;
  return insecure.some((e) => e === host || e === name || (e.includes('/') && inCidr(name, e)));
}

/** CA certificates and client key pairs from certs.d/HOST[:PORT]/, as Docker reads them. */
async function tlsFiles(certsDir: string, host: string): Promise<{ ca?: string[]; cert?: string; key?: string }> {
  const dir = join(certsDir, host);
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch {
    return {};
  }
  const ca: string[] = [];
  let cert: string | undefined;
  let key: string | undefined;
  for (const n of names) {
    if (n.endsWith('.crt')) ca.push(await readFile(join(dir, n), 'utf8'));
    else if (n.endsWith('.cert')) {
      const keyName = n.slice(0, -'.cert'.length) + '.key';
      if (!names.includes(keyName)) {
        throw new TbuildError('TB_REGISTRY_PROTOCOL', `missing key ${keyName} for client certificate ${n} in ${dir}`);
      }
      cert = await readFile(join(dir, n), 'utf8');
      key = await readFile(join(dir, keyName), 'utf8');
    }
  }
  return { ...(ca.length ? { ca } : {}), ...(cert ? { cert, key } : {}) };
}

/** Errors of the connection itself (not an HTTP answer): worth a retry, and a reason to try HTTP on an insecure host. */
export function connectionErrorCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 4 && e && typeof e === 'object'; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (code.startsWith('E') || code.startsWith('UND_ERR') || code.startsWith('ERR_SSL') || code.includes('CERT'))) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export class Transport {
  readonly #opts: RegistryOptions;
  readonly #agents = new Map<string, Promise<Dispatcher>>();
  readonly #schemes = new Map<string, Promise<'https' | 'http'>>();

  constructor(opts: RegistryOptions) {
    this.#opts = opts;
  }

  get timeoutMs(): number {
    return this.#opts.timeoutMs ?? 30_000;
  }

  /** `https://host` or `http://host`, decided once per host (a ping on insecure hosts). */
  async base(host: string): Promise<string> {
    let s = this.#schemes.get(host);
    if (!s) {
      s = this.#chooseScheme(host);
      this.#schemes.set(host, s);
      s.catch(() => this.#schemes.delete(host));
    }
    return `${await s}://${host}`;
  }

  async #chooseScheme(host: string): Promise<'https' | 'http'> {
    if (!isInsecureHost(host, this.#opts.insecure)) return 'https';
    // Docker's order for an insecure registry: TLS first (unverified), plain HTTP when TLS fails.
    try {
      const res = await this.#once({ method: 'GET', url: `https://${host}/v2/` });
      await res.body.dump();
      return 'https';
    } catch (err) {
      if (connectionErrorCode(err) === 'ECONNREFUSED') throw unreachable(host, err);
      return 'http';
    }
  }

  async #agent(host: string): Promise<Dispatcher> {
    let a = this.#agents.get(host);
    if (!a) {
      a = (async () => {
        const files = await tlsFiles(this.#opts.certsDir ?? DEFAULT_CERTS_DIR, host);
        const insecure = isInsecureHost(host, this.#opts.insecure);
        return new Agent({
          keepAliveTimeout: 30_000,
          connections: 16,
          headersTimeout: this.timeoutMs,
          bodyTimeout: this.timeoutMs,
          connect: {
            timeout: Math.min(this.timeoutMs, 10_000),
            // Extra CAs add to the usual roots rather than replace them.
            ...(files.ca ? { ca: [...rootCertificates, ...files.ca] } : {}),
            ...(files.cert ? { cert: files.cert, key: files.key } : {}),
            ...(insecure && !files.ca ? { rejectUnauthorized: false } : {}),
          },
        });
      })();
      this.#agents.set(host, a);
    }
    return a;
  }

  async #once(req: HttpRequest): Promise<HttpResponse> {
    const url = new URL(req.url);
    const dispatcher = await this.#agent(url.host);
    const headers: Record<string, string> = { 'user-agent': this.#opts.userAgent ?? 'tbuild', ...req.headers };
    const res = await request(url, {
      method: req.method,
      headers,
      ...(req.body !== undefined ? { body: req.body } : {}),
      dispatcher,
    });
    return { status: res.statusCode, headers: res.headers, body: res.body as unknown as HttpResponse['body'], url: url.toString() };
  }

  /**
   * Send a request, following redirects (up to 5; a loop is an error) and dropping Authorization
   * when a redirect leaves the host. Connection failures of idempotent requests are retried.
   */
  async send(req: HttpRequest): Promise<HttpResponse> {
    let current = req;
    const firstHost = new URL(req.url).host;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const res = await this.#withRetries(current);
      if (![301, 302, 303, 307, 308].includes(res.status)) return res;
      const location = res.headers.location;
      await res.body.dump();
      if (typeof location !== 'string') throw new TbuildError('TB_REGISTRY_PROTOCOL', `redirect without a location from ${new URL(current.url).host}`);
      const next = new URL(location, current.url);
      const headers = { ...current.headers };
      if (next.host !== firstHost) delete headers.authorization;
      const method = res.status === 303 ? 'GET' : current.method;
      current = { ...current, method, url: next.toString(), headers };
    }
    throw new TbuildError('TB_REGISTRY_PROTOCOL', `too many redirects (more than ${MAX_REDIRECTS}) starting at ${redact(req.url)}`);
  }

  async #withRetries(req: HttpRequest): Promise<HttpResponse> {
    const idempotent = req.idempotent ?? (req.method === 'GET' || req.method === 'HEAD');
    const attempts = idempotent ? (this.#opts.attempts ?? 3) : 1;
    let last: unknown;
    for (let i = 0; i < attempts; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 200 * 2 ** (i - 1)));
      try {
        return await this.#once(req);
      } catch (err) {
        last = err;
        const code = connectionErrorCode(err);
        // A refused connection will be refused again; name the address at once.
        if (!code || code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code.includes('CERT')) break;
      }
    }
    throw unreachable(new URL(req.url).host, last);
  }

  async close(): Promise<void> {
    const agents = [...this.#agents.values()];
    this.#agents.clear();
    // an agent whose set-up failed (a bad certs.d) was reported to its request; nothing to close
    for (const a of agents) await a.then((agent) => agent.close(), () => {}).catch(() => {});
  }
}

/** A URL without its query (upload URLs carry state tokens; token URLs may carry account names). */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '<url>';
  }
}

/** An error while reading a response body (a stall past the timeout, a reset): named by host. */
export function bodyError(host: string, err: unknown): unknown {
  if (err instanceof TbuildError || !connectionErrorCode(err)) return err;
  return unreachable(host, err);
}

function unreachable(host: string, err: unknown): TbuildError {
  if (err instanceof TbuildError) return err;
  const code = connectionErrorCode(err);
  let msg = (err as Error)?.message ?? String(err);
  if (code?.startsWith('ERR_SSL')) {
    msg += ' (if it speaks plain HTTP: that is allowed only for loopback registries and those listed with --insecure-registry)';
  }
  return new TbuildError('TB_REGISTRY_UNREACHABLE', `cannot reach registry ${host}: ${code ? `${code}: ` : ''}${msg}`, {
    cause: err,
    details: { host, ...(code ? { reason: code } : {}) },
  });
}
