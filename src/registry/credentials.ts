import { spawn } from 'node:child_process';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { TbuildError } from '../errors.js';
import type { Credentials, CredentialStore } from './types.js';

/**
 * Docker's credentials: `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`) with
 * `auths` (base64 `user:password`, `identitytoken`), `credsStore` and per-host `credHelpers`,
 * the helpers being `docker-credential-NAME get|store|erase` programs. Errors never quote the
 * file's content, since it holds secrets.
 */

/** docker.io's key in config.json, as the Docker CLI writes it. */
export const DOCKER_IO_KEY = 'https://index.docker.io/v1/';

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
}

interface DockerConfig {
  auths?: Record<string, AuthEntry>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [k: string]: unknown;
}

export function dockerConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_CONFIG || join(homedir(), '.docker');
}

/** `https://host:port/v1/` → `host:port`; `index.docker.io`/`registry-1.docker.io` → `docker.io`. */
export function normalizeServer(server: string): string {
  let s = server.trim().replace(/^[a-z]+:\/\//i, '');
  s = s.split('/')[0]!;
  if (s === 'index.docker.io' || s === 'registry-1.docker.io' || s === '') return 'docker.io';
  return s;
}

function serverKey(host: string): string {
  return host === 'docker.io' ? DOCKER_IO_KEY : host;
}

function runHelper(name: string, action: 'get' | 'store' | 'erase', input: string): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(`docker-credential-${name}`, [action], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.resume();
    child.on('error', (err) =>
      reject(new TbuildError('TB_CREDENTIALS', `cannot run credential helper docker-credential-${name}: ${(err as NodeJS.ErrnoException).code ?? err.message}`)),
    );
    child.on('close', (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString() }));
    // a helper that exits without reading its input is judged by its exit status, not by an EPIPE
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

export class DockerConfigCredentials implements CredentialStore {
  readonly #file: string;

  constructor(configDir: string = dockerConfigDir()) {
    this.#file = join(configDir, 'config.json');
  }

  get file(): string {
    return this.#file;
  }

  async #read(): Promise<DockerConfig> {
    let text: string;
    try {
      text = await readFile(this.#file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new TbuildError('TB_CREDENTIALS', `cannot read ${this.#file}: ${(err as NodeJS.ErrnoException).code}`);
    }
    if (text.trim() === '') return {};
    let cfg: unknown;
    try {
      cfg = JSON.parse(text);
    } catch {
      // JSON.parse's message quotes the text around the error: it could be a password.
      throw new TbuildError('TB_CREDENTIALS', `${this.#file} is not valid JSON`);
    }
    if (!cfg || typeof cfg !== 'object' || Array.isArray(cfg)) throw new TbuildError('TB_CREDENTIALS', `${this.#file} is not a JSON object`);
    return cfg as DockerConfig;
  }

  async #write(cfg: DockerConfig): Promise<void> {
    await mkdir(dirname(this.#file), { recursive: true, mode: 0o700 });
    const tmp = `${this.#file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(cfg, null, '\t') + '\n', { mode: 0o600 });
    await rename(tmp, this.#file);
  }

  #helperFor(cfg: DockerConfig, host: string): string | undefined {
    return cfg.credHelpers?.[host] ?? cfg.credHelpers?.[serverKey(host)] ?? cfg.credsStore;
  }

  #entry(cfg: DockerConfig, host: string): AuthEntry | undefined {
    for (const [k, v] of Object.entries(cfg.auths ?? {})) if (normalizeServer(k) === host) return v;
    return undefined;
  }

  async get(host: string): Promise<Credentials | undefined> {
    const cfg = await this.#read();
    const helper = this.#helperFor(cfg, host);
    if (helper) {
      const { code, stdout } = await runHelper(helper, 'get', serverKey(host));
      if (code !== 0) {
        if (/credentials not found/i.test(stdout)) return undefined;
        throw new TbuildError('TB_CREDENTIALS', `credential helper docker-credential-${helper} failed for ${host} (exit ${code})`);
      }
      let j: { Username?: string; Secret?: string };
      try {
        j = JSON.parse(stdout) as typeof j;
      } catch {
        throw new TbuildError('TB_CREDENTIALS', `credential helper docker-credential-${helper} sent no JSON for ${host}`);
      }
      if (!j.Secret) return undefined;
      return j.Username === '<token>' ? { identityToken: j.Secret } : { username: j.Username ?? '', password: j.Secret };
    }
    const e = this.#entry(cfg, host);
    if (!e) return undefined;
    const out: Credentials = {};
    if (e.auth) {
      const decoded = Buffer.from(e.auth, 'base64').toString();
      const i = decoded.indexOf(':');
      if (i < 0) throw new TbuildError('TB_CREDENTIALS', `${this.#file}: the auth entry for ${host} is not base64 of user:password`);
      out.username = decoded.slice(0, i);
      out.password = decoded.slice(i + 1);
    } else if (e.username !== undefined) {
      out.username = e.username;
      out.password = e.password ?? '';
    }
    if (e.identitytoken) out.identityToken = e.identitytoken;
    if (e.registrytoken) out.registryToken = e.registrytoken;
    return Object.keys(out).length ? out : undefined;
  }

  async store(host: string, creds: Credentials): Promise<void> {
    const cfg = await this.#read();
    const helper = this.#helperFor(cfg, host);
    const key = serverKey(host);
    cfg.auths ??= {};
    for (const k of Object.keys(cfg.auths)) if (normalizeServer(k) === host) delete cfg.auths[k];
    if (helper) {
      const secret = creds.identityToken ?? creds.password ?? '';
      const username = creds.identityToken ? '<token>' : (creds.username ?? '');
      const { code } = await runHelper(helper, 'store', JSON.stringify({ ServerURL: key, Username: username, Secret: secret }));
      if (code !== 0) throw new TbuildError('TB_CREDENTIALS', `credential helper docker-credential-${helper} could not store credentials for ${host} (exit ${code})`);
      cfg.auths[key] = {};
    } else {
      const entry: AuthEntry = {};
      if (creds.username !== undefined) entry.auth = Buffer.from(`${creds.username}:${creds.password ?? ''}`).toString('base64');
      if (creds.identityToken) entry.identitytoken = creds.identityToken;
      cfg.auths[key] = entry;
    }
    await this.#write(cfg);
  }

  async erase(host: string): Promise<boolean> {
    const cfg = await this.#read();
    let found = false;
    for (const k of Object.keys(cfg.auths ?? {})) {
      if (normalizeServer(k) === host) {
        delete cfg.auths![k];
        found = true;
      }
    }
    const helper = this.#helperFor(cfg, host);
    if (helper) {
      const { code } = await runHelper(helper, 'erase', serverKey(host));
      found ||= code === 0;
    }
    if (found) await this.#write(cfg);
    return found;
  }
}

/** Credentials given once (an X-Registry-Auth header, `login` before storing): one host, nothing stored. */
export function fixedCredentials(host: string, creds: Credentials | undefined, fallback?: CredentialStore): CredentialStore {
  return {
    get: async (h) => (h === host && creds ? creds : fallback?.get(h)),
  };
}
