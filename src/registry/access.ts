import type { RegistryClientSource, CredentialStore, Credentials, DistributionInfo, PulledImage, PulledRepository, PullRequest, PushedImage, PushRequest, Registries, RegistryClient, RegistryOptions, RequestAuth } from './types.js';
import type { PullOptions, PullTarget } from './pull.js';

/**
 * The embedded engine's registry verbs: one shared client (credentials from Docker's config.json,
 * tokens cached for the engine's life), or a short-lived one for credentials given with a request.
 * The client and the pull/push code load on first use: most commands never touch a registry.
 */
export class RegistryAccess implements Registries, RegistryClientSource {
  readonly #target: PullTarget;
  readonly #opts: RegistryOptions;
  readonly #stored: () => Promise<CredentialStore>;
  #shared: Promise<RegistryClient> | undefined;

  /** `stored`: where credentials live when a request brings none (Docker's config.json). */
  constructor(target: PullTarget, opts: RegistryOptions, stored: () => Promise<CredentialStore>) {
    this.#target = target;
    this.#opts = opts;
    this.#stored = stored;
  }

  async #client(auth?: RequestAuth): Promise<{ client: RegistryClient; release: () => Promise<void> }> {
    const { Registry } = await import('./client.js');
    const stored = this.#opts.credentials ?? (await this.#stored());
    if (auth) {
      const { fixedCredentials } = await import('./credentials.js');
      const client = new Registry({ ...this.#opts, credentials: fixedCredentials(auth.host, auth.credentials, stored) });
      return { client, release: () => client.close() };
    }
    this.#shared ??= Promise.resolve(new Registry({ ...this.#opts, credentials: stored }));
    return { client: await this.#shared, release: async () => {} };
  }

  /** `fn` with a client for `auth` (or the shared one), released afterwards. */
  async #with<T>(auth: RequestAuth | undefined, fn: (client: RegistryClient) => Promise<T>): Promise<T> {
    const { client, release } = await this.#client(auth);
    try {
      return await fn(client);
    } finally {
      await release();
    }
  }

  async pull(ref: string, req: PullRequest = {}): Promise<PulledImage> {
    const [{ pullImage }, opts] = await Promise.all([import('./pull.js'), pullOptions(req)]);
    return this.#with(req.auth, (client) => pullImage(this.#target, client, ref, opts));
  }

  async pullAllTags(repository: string, req: PullRequest = {}): Promise<PulledRepository> {
    const [{ pullAllTags }, opts] = await Promise.all([import('./pull.js'), pullOptions(req)]);
    return this.#with(req.auth, (client) => pullAllTags(this.#target, client, repository, opts));
  }

  async push(ref: string, req: PushRequest = {}): Promise<PushedImage> {
    const { pushImage } = await import('./push.js');
    const { auth, ...opts } = req;
    return this.#with(auth, (client) => pushImage(this.#target, client, ref, opts));
  }

  openClient(auth?: RequestAuth): Promise<{ client: RegistryClient; release: () => Promise<void> }> {
    return this.#client(auth);
  }

  checkLogin(host: string, credentials: Credentials): Promise<void> {
    return this.#with({ host, credentials }, (client) => client.login(host, credentials));
  }

  async distribution(ref: string, auth?: RequestAuth): Promise<DistributionInfo> {
    const { distributionInfo } = await import('./pull.js');
    return this.#with(auth, (client) => distributionInfo(client, ref));
  }

  async close(): Promise<void> {
    const shared = this.#shared;
    this.#shared = undefined;
    await (await shared)?.close();
  }
}

async function pullOptions(req: PullRequest): Promise<PullOptions> {
  const { parsePlatform } = await import('./media-types.js');
  return {
    ...(req.platform ? { platform: parsePlatform(req.platform) } : {}),
    ...(req.platform && req.requirePlatform ? { requirePlatform: true } : {}),
    ...(req.onProgress ? { onProgress: req.onProgress } : {}),
    ...(req.concurrency ? { concurrency: req.concurrency } : {}),
  };
}
