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

  async pull(ref: string, req: PullRequest = {}): Promise<PulledImage> {
    const { pullImage } = await import('./pull.js');
    const { client, release } = await this.#client(req.auth);
    try {
      return await pullImage(this.#target, client, ref, await pullOptions(req));
    } finally {
      await release();
    }
  }

  async pullAllTags(repository: string, req: PullRequest = {}): Promise<PulledRepository> {
    const { pullAllTags } = await import('./pull.js');
    const { client, release } = await this.#client(req.auth);
    try {
      return await pullAllTags(this.#target, client, repository, await pullOptions(req));
    } finally {
      await release();
    }
  }

  async push(ref: string, req: PushRequest = {}): Promise<PushedImage> {
    const { pushImage } = await import('./push.js');
    const { client, release } = await this.#client(req.auth);
    try {
      const { auth: _auth, ...opts } = req;
      return await pushImage(this.#target, client, ref, opts);
    } finally {
      await release();
    }
  }

  openClient(auth?: RequestAuth): Promise<{ client: RegistryClient; release: () => Promise<void> }> {
    return this.#client(auth);
  }

  async checkLogin(host: string, credentials: Credentials): Promise<void> {
    const { client, release } = await this.#client({ host, credentials });
    try {
      await client.login(host, credentials);
    } finally {
      await release();
    }
  }

  async distribution(ref: string, auth?: RequestAuth): Promise<DistributionInfo> {
    const { distributionInfo } = await import('./pull.js');
    const { client, release } = await this.#client(auth);
    try {
      return await distributionInfo(client, ref);
    } finally {
      await release();
    }
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
    ...(req.onProgress ? { onProgress: req.onProgress } : {}),
    ...(req.concurrency ? { concurrency: req.concurrency } : {}),
  };
}
