import { TbuildError, isTbuildError } from '../../errors.js';
import type { Router } from '../router.js';
import type { DaemonServices } from '../types.js';
import type { EventBus } from '../events.js';
import type { RequestContext } from '../http.js';
import { badRequest, readJson, sendJson } from '../http.js';
import { JsonMessageWriter } from '../../api/wire/json-message.js';
import { transferMessage } from '../../api/wire/transfer.js';
import { parseReference, formatReference, familiarName } from '../../images/reference.js';
import { normalizeServer } from '../../registry/credentials.js';
import type { Credentials, Registries, RequestAuth, TransferProgress } from '../../registry/types.js';

/**
 * The Engine API's registry routes, in Docker's shapes: `POST /images/create?fromImage=` (pull),
 * `POST /images/{name}/push`, `POST /auth`, `GET /distribution/{name}/json`. Credentials come
 * with each request in X-Registry-Auth (Docker's AuthConfig, base64url JSON); without them the
 * daemon uses its own `$DOCKER_CONFIG/config.json`.
 */

interface AuthConfig {
  username?: string;
  password?: string;
  auth?: string;
  serveraddress?: string;
  identitytoken?: string;
  registrytoken?: string;
}

function toCredentials(a: AuthConfig): Credentials | undefined {
  const c: Credentials = {};
  if (a.username) {
    c.username = a.username;
    c.password = a.password ?? '';
  } else if (a.auth) {
    const decoded = Buffer.from(a.auth, 'base64').toString();
    const i = decoded.indexOf(':');
    if (i > 0) {
      c.username = decoded.slice(0, i);
      c.password = decoded.slice(i + 1);
    }
  }
  if (a.identitytoken) c.identityToken = a.identitytoken;
  if (a.registrytoken) c.registryToken = a.registrytoken;
  return Object.keys(c).length ? c : undefined;
}

/** X-Registry-Auth for the registry of `host`; the Docker CLI sends `{}` (or nothing) when it has none. */
export function authFromHeader(header: string | string[] | undefined, host: string): RequestAuth | undefined {
  const text = Array.isArray(header) ? header[0] : header;
  if (!text) return undefined;
  let cfg: AuthConfig;
  try {
    // base64url per the API; some clients send standard base64.
    cfg = JSON.parse(Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8')) as AuthConfig;
  } catch {
    throw badRequest('X-Registry-Auth is not base64 JSON');
  }
  if (!cfg || typeof cfg !== 'object') throw badRequest('X-Registry-Auth is not a JSON object');
  const credentials = toCredentials(cfg);
  return credentials ? { host, credentials } : undefined;
}

/** X-Registry-Config (`POST /build`): base64url JSON of `{ server: AuthConfig }` for every registry the CLI knows. */
export function authsFromConfigHeader(header: string | string[] | undefined): RequestAuth[] {
  const text = Array.isArray(header) ? header[0] : header;
  if (!text) return [];
  let map: Record<string, AuthConfig>;
  try {
    map = JSON.parse(Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8')) as Record<string, AuthConfig>;
  } catch {
    throw badRequest('X-Registry-Config is not base64 JSON');
  }
  if (!map || typeof map !== 'object') return [];
  const out: RequestAuth[] = [];
  for (const [server, cfg] of Object.entries(map)) {
    const credentials = cfg && typeof cfg === 'object' ? toCredentials(cfg) : undefined;
    if (credentials) out.push({ host: normalizeServer(server), credentials });
  }
  return out;
}

/**
 * A JSON-message stream whose headers are sent with the first message: an error before any
 * progress is still an HTTP status (404 for an unknown image, 401 for bad credentials), as
 * dockerd answers; after that it can only be an `errorDetail` line.
 */
class LazyStream {
  readonly #ctx: RequestContext;
  #writer: JsonMessageWriter | undefined;

  constructor(ctx: RequestContext) {
    this.#ctx = ctx;
  }

  get started(): boolean {
    return this.#writer !== undefined;
  }

  #w(): JsonMessageWriter {
    if (!this.#writer) {
      this.#ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
      this.#writer = new JsonMessageWriter(this.#ctx.res);
    }
    return this.#writer;
  }

  progress(p: TransferProgress): void {
    this.#w().write(transferMessage(p));
  }

  aux(aux: Record<string, unknown>): void {
    this.#w().write({ progressDetail: {}, aux });
  }

  fail(err: unknown): void {
    if (!this.#writer) {
      // dockerd answers a registry's refusal during pull/push with a 500, not a 401: on a 401 the
      // Docker CLI would stop and prompt for a login on stdin (which hangs scripts).
      if (isTbuildError(err, 'TB_REGISTRY_UNAUTHORIZED')) throw Object.assign(new Error(err.message), { statusCode: 500 });
      throw err;
    }
    this.#writer.error((err as Error).message ?? String(err));
    this.#ctx.res.end();
  }

  end(): void {
    this.#w();
    this.#ctx.res.end();
  }
}

function registriesOf(svc: DaemonServices): Registries {
  const r = svc.engine.registries;
  if (!r) throw Object.assign(new Error('registry access is not supported by this daemon'), { statusCode: 501 });
  return r;
}

/** `fromImage` + `tag` (a tag or a digest) → one reference. */
function pullRef(q: URLSearchParams): string {
  const fromImage = q.get('fromImage')!;
  const tag = q.get('tag');
  if (!tag) return fromImage;
  return tag.startsWith('sha256:') ? `${fromImage}@${tag}` : `${fromImage}:${tag}`;
}

/** `POST /images/create?fromImage=…`: the pull half of the route (images.ts keeps fromSrc). */
export async function pullRoute(ctx: RequestContext, svc: DaemonServices, events: EventBus): Promise<void> {
  const ref = pullRef(ctx.query);
  const parsed = parseReference(ref);
  const auth = authFromHeader(ctx.req.headers['x-registry-auth'], parsed.domain);
  const out = new LazyStream(ctx);
  try {
    const platform = ctx.query.get('platform') || undefined;
    const req = { onProgress: (p: TransferProgress) => out.progress(p), ...(platform ? { platform, requirePlatform: true } : {}), ...(auth ? { auth } : {}) };
    // Docker reads a name without tag or digest as every tag (`docker pull -a`)
    if (parsed.tag === undefined && parsed.digest === undefined) {
      const res = await registriesOf(svc).pullAllTags(ref, req);
      for (const tag of res.pulled) events.publish('image', 'pull', `${res.name}:${tag}`, { name: `${res.name}:${tag}` });
    } else {
      const res = await registriesOf(svc).pull(ref, req);
      events.publish('image', 'pull', res.name, { name: res.name });
    }
    out.end();
  } catch (err) {
    out.fail(err);
  }
}

export function registerRegistryRoutes(router: Router, svc: DaemonServices, events: EventBus): void {
  router.add('POST', '/images/{name:*}/push', async (ctx) => {
    const repo = ctx.params.name!;
    const tag = ctx.query.get('tag') || undefined;
    const parsed = parseReference(tag ? `${repo}:${tag}` : repo);
    const auth = authFromHeader(ctx.req.headers['x-registry-auth'], parsed.domain);
    // Without a tag Docker pushes every tag of the repository.
    let refs: string[];
    if (parsed.tag !== undefined) refs = [formatReference(parsed)];
    else {
      const prefix = `${formatReference({ domain: parsed.domain, path: parsed.path })}:`;
      refs = (await svc.engine.images.list()).flatMap((img) => img.names.filter((n) => n.startsWith(prefix)));
    }
    // `docker push --platform` (API 1.46): a stored image is one platform; another is not here to push
    const wanted = ctx.query.get('platform');
    let platform: { os?: string; architecture?: string; variant?: string } | undefined;
    if (wanted) {
      try {
        platform = JSON.parse(wanted) as typeof platform;
      } catch {
        throw badRequest(`invalid platform ${wanted}: want the OCI platform as JSON`);
      }
    }
    for (const r of refs) {
      const img = await svc.engine.images.get(r);
      if (!img) refs = refs.filter((x) => x !== r);
      else if (platform && ((platform.os && platform.os !== img.config.os) || (platform.architecture && platform.architecture !== img.config.architecture) || (platform.variant && platform.variant !== (img.config.variant ?? '')))) {
        throw new TbuildError('TB_IMAGE_NOT_FOUND', `${familiarName(r)} has no image for ${[platform.os, platform.architecture, platform.variant].filter(Boolean).join('/')} (it is ${img.config.os}/${img.config.architecture})`);
      }
    }
    if (refs.length === 0) {
      throw new TbuildError('TB_IMAGE_NOT_FOUND', `An image does not exist locally with the tag: ${familiarName(formatReference(parsed))}`);
    }
    const out = new LazyStream(ctx);
    try {
      for (const r of refs) {
        const res = await registriesOf(svc).push(r, { onProgress: (p) => out.progress(p), ...(auth ? { auth } : {}) });
        out.aux({ Tag: res.tag, Digest: res.digest, Size: res.size });
        events.publish('image', 'push', r, { name: r });
      }
      out.end();
    } catch (err) {
      out.fail(err);
    }
  });

  router.add('POST', '/auth', async (ctx) => {
    const body = await readJson<AuthConfig>(ctx.req);
    const credentials = toCredentials(body);
    if (!credentials) throw badRequest('username and password are required');
    const host = normalizeServer(body.serveraddress ?? 'docker.io');
    await registriesOf(svc).checkLogin(host, credentials);
    sendJson(ctx.res, 200, { Status: 'Login Succeeded', IdentityToken: '' });
  });

  router.add('GET', '/distribution/{name:*}/json', async (ctx) => {
    const name = ctx.params.name!;
    const auth = authFromHeader(ctx.req.headers['x-registry-auth'], parseReference(name).domain);
    sendJson(ctx.res, 200, await registriesOf(svc).distribution(name, auth));
  });
}
