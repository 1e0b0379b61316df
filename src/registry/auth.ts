import { TbuildError } from '../errors.js';
import type { Credentials, CredentialStore } from './types.js';
import { bodyError, redact, type HttpResponse, type Transport } from './transport.js';

/**
 * Authorization from a registry's `WWW-Authenticate` challenge: Basic with stored credentials, or
 * Bearer tokens from the challenge's realm (anonymous or with credentials, or an identity token
 * through the OAuth2 form), cached per host and scope set until they expire.
 */

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parse `Bearer realm="…",service="…",scope="…", Basic realm="…"` (several challenges possible). */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  const s = Array.isArray(header) ? header.join(', ') : (header ?? '');
  const out: Challenge[] = [];
  let current: Challenge | undefined;
  let i = 0;
  const skip = (chars: string): void => {
    while (i < s.length && chars.includes(s[i]!)) i++;
  };
  while (i < s.length) {
    skip(' \t,');
    const start = i;
    while (i < s.length && /[\w.+/-]/.test(s[i]!)) i++;
    const word = s.slice(start, i);
    if (!word) {
      i++;
      continue;
    }
    skip(' \t');
    if (s[i] !== '=') {
      current = { scheme: word.toLowerCase(), params: {} };
      out.push(current);
      continue;
    }
    i++;
    skip(' \t');
    let value = '';
    if (s[i] === '"') {
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < s.length) i++;
        value += s[i++];
      }
      i++;
    } else {
      while (i < s.length && s[i] !== ',' && s[i] !== ' ') value += s[i++];
    }
    if (current) current.params[word.toLowerCase()] = value;
  }
  return out;
}

interface CachedToken {
  header: string;
  /** ms since epoch. */
  expires: number;
}

/** Registry error bodies: `{"errors":[{"code":"…","message":"…"}]}`. */
export async function registryErrorText(res: HttpResponse): Promise<string> {
  const text = await res.body.text().catch(() => '');
  try {
    const j = JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> };
    const e = j.errors?.[0];
    // as Docker words them: MANIFEST_UNKNOWN is "manifest unknown"
    if (e) return [e.code?.toLowerCase().replaceAll('_', ' '), e.message].filter(Boolean).join(': ');
  } catch {
    // not JSON: use the text itself, shortened
  }
  return text.trim().slice(0, 200);
}

export class Authorizer {
  readonly #transport: Transport;
  readonly #credentials: CredentialStore | undefined;
  readonly #challenges = new Map<string, Challenge>();
  readonly #tokens = new Map<string, CachedToken>();
  readonly #creds = new Map<string, Promise<Credentials | undefined>>();

  constructor(transport: Transport, credentials: CredentialStore | undefined) {
    this.#transport = transport;
    this.#credentials = credentials;
  }

  /** Use these credentials for `host` from now on (login checks them this way). */
  setCredentials(host: string, creds: Credentials | undefined): void {
    this.#creds.set(host, Promise.resolve(creds));
    for (const k of [...this.#tokens.keys()]) if (k.startsWith(`${host} `)) this.#tokens.delete(k);
  }

  #credentialsFor(host: string): Promise<Credentials | undefined> {
    let c = this.#creds.get(host);
    if (!c) {
      // Credentials are kept under the name users write (docker.io), not the API host.
      const name = host === 'registry-1.docker.io' ? 'docker.io' : host;
      c = this.#credentials ? this.#credentials.get(name) : Promise.resolve(undefined);
      this.#creds.set(host, c);
    }
    return c;
  }

  /** An Authorization header for `host` and `scopes` without asking the registry first, when one is known. */
  async header(host: string, scopes: readonly string[]): Promise<string | undefined> {
    const key = `${host} ${[...scopes].sort().join(' ')}`;
    const cached = this.#tokens.get(key);
    if (cached && cached.expires > Date.now()) return cached.header;
    const challenge = this.#challenges.get(host);
    if (!challenge) return undefined;
    return this.#authorize(host, scopes, challenge, key);
  }

  /** After a 401: remember the challenge and get a fresh Authorization header (or throw unauthorized). */
  async answer(host: string, scopes: readonly string[], res: HttpResponse): Promise<string> {
    const challenges = parseChallenges(res.headers['www-authenticate']);
    const challenge = challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
    if (!challenge) {
      throw new TbuildError('TB_REGISTRY_UNAUTHORIZED', `unauthorized: ${host} asked for authentication it did not describe`, { details: { host } });
    }
    this.#challenges.set(host, challenge);
    const key = `${host} ${[...scopes].sort().join(' ')}`;
    this.#tokens.delete(key);
    return this.#authorize(host, scopes, challenge, key);
  }

  async #authorize(host: string, scopes: readonly string[], challenge: Challenge, key: string): Promise<string> {
    const creds = await this.#credentialsFor(host);
    if (challenge.scheme === 'basic') {
      if (!creds?.username || creds.password === undefined) {
        throw new TbuildError('TB_REGISTRY_UNAUTHORIZED', `unauthorized: authentication required for ${host} (no credentials; use tbuild login ${host})`, { details: { host } });
      }
      const header = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
      this.#tokens.set(key, { header, expires: Number.MAX_SAFE_INTEGER });
      return header;
    }
    if (challenge.scheme !== 'bearer' || !challenge.params.realm) {
      throw new TbuildError('TB_REGISTRY_UNAUTHORIZED', `unauthorized: unsupported authentication scheme ${challenge.scheme} at ${host}`, { details: { host } });
    }
    if (creds?.registryToken) return `Bearer ${creds.registryToken}`;
    const token = creds?.fetchToken ? await this.#tokenFromFetcher(host, challenge.params, scopes, creds.fetchToken) : await this.#fetchToken(host, challenge.params, scopes, creds);
    this.#tokens.set(key, token);
    return token.header;
  }

  async #tokenFromFetcher(host: string, params: Record<string, string>, scopes: readonly string[], fetchToken: NonNullable<Credentials['fetchToken']>): Promise<CachedToken> {
    let got: Awaited<ReturnType<typeof fetchToken>>;
    try {
      got = await fetchToken({ realm: params.realm!, ...(params.service ? { service: params.service } : {}), scopes });
    } catch (err) {
      throw new TbuildError('TB_REGISTRY_UNAUTHORIZED', `unauthorized: the client could not get a token for ${host}: ${(err as Error).message}`, { cause: err, details: { host } });
    }
    if (!got.token) throw new TbuildError('TB_REGISTRY_UNAUTHORIZED', `unauthorized: the client has no token for ${host}`, { details: { host } });
    return { header: `Bearer ${got.token}`, expires: tokenExpiry(got.expiresIn, got.issuedAt ? got.issuedAt * 1000 : undefined) };
  }

  async #fetchToken(host: string, params: Record<string, string>, scopes: readonly string[], creds: Credentials | undefined): Promise<CachedToken> {
    const realm = new URL(params.realm!);
    let res: HttpResponse;
    if (creds?.identityToken) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, client_id: 'tbuild' });
      if (params.service) form.set('service', params.service);
      if (scopes.length) form.set('scope', scopes.join(' '));
      res = await this.#transport.send({
        method: 'POST',
        url: realm.toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: Buffer.from(form.toString()),
        idempotent: true,
      });
    } else {
      if (params.service) realm.searchParams.set('service', params.service);
      for (const s of scopes) realm.searchParams.append('scope', s);
      const headers: Record<string, string> = {};
      if (creds?.username && creds.password !== undefined) {
        headers.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
      }
      res = await this.#transport.send({ method: 'GET', url: realm.toString(), headers });
    }
    if (res.status === 401 || res.status === 403) {
      const why = await registryErrorText(res);
      throw new TbuildError(
        'TB_REGISTRY_UNAUTHORIZED',
        `unauthorized: ${creds?.username ? 'incorrect username or password' : 'authentication required'} for ${host}${why ? ` (${why})` : ''}`,
        { details: { host } },
      );
    }
    if (res.status !== 200) {
      const why = await registryErrorText(res);
      throw new TbuildError('TB_REGISTRY_PROTOCOL', `token server ${redact(realm.toString())} answered ${res.status}${why ? `: ${why}` : ''}`);
    }
    let body: { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
    try {
      body = JSON.parse(await res.body.text()) as typeof body;
    } catch (err) {
      if (bodyError(realm.host, err) !== err) throw bodyError(realm.host, err);
      throw new TbuildError('TB_REGISTRY_PROTOCOL', `token server ${redact(realm.toString())} sent no JSON`);
    }
    const token = body.token ?? body.access_token;
    if (!token) throw new TbuildError('TB_REGISTRY_PROTOCOL', `token server ${redact(realm.toString())} sent no token`);
    return { header: `Bearer ${token}`, expires: tokenExpiry(body.expires_in, body.issued_at ? Date.parse(body.issued_at) : undefined) };
  }
}

/** When a token stops being used: the spec's default lifetime is 60 s; a margin keeps it from expiring mid-request. */
function tokenExpiry(expiresIn: number | undefined, issuedMs: number | undefined): number {
  const lifetime = Math.max(10, typeof expiresIn === 'number' && expiresIn > 0 ? expiresIn : 60);
  const start = issuedMs !== undefined && Number.isFinite(issuedMs) && Math.abs(issuedMs - Date.now()) < 300_000 ? issuedMs : Date.now();
  return start + (lifetime - 5) * 1000;
}
