import type { Readable } from 'node:stream';
import type { Digest } from '../util/digest.js';
import type { ImageRecord } from '../images/types.js';

/**
 * The registry client's interface, in the shape of containerd's "remotes": a `Resolver` turns a
 * reference into a descriptor, a `Fetcher` reads manifests and blobs of one repository, a `Pusher`
 * writes them. Everything the registry sends is verified against its digest before it is used.
 */

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
  /** Where the blob can be fetched from, besides the repository itself (foreign layers). */
  urls?: string[];
}

import type { Platform } from '../util/platform.js';
export type { Platform };

/** A repository on a registry: `host` as the API is reached (`docker.io` → `registry-1.docker.io` is the client's job). */
export interface RepositoryRef {
  /** Registry host[:port] as written in the reference (`docker.io`, `127.0.0.1:5000`). */
  domain: string;
  /** Repository path (`library/busybox`). */
  path: string;
}

/** What a name resolves to: the top-level manifest (which may be an index). */
export interface Resolved {
  /** `domain/path` of the repository. */
  repository: RepositoryRef;
  descriptor: Descriptor;
  /** The manifest's bytes, already checked against `descriptor.digest`. */
  bytes: Buffer;
}

/** Docker's credentials for one registry. A password or token never appears in logs or errors. */
export interface Credentials {
  username?: string;
  password?: string;
  /** An OAuth refresh token (`identitytoken` in config.json). */
  identityToken?: string;
  /** A bearer token to send as it is (`registrytoken`). */
  registryToken?: string;
  /**
   * Someone else fetches bearer tokens for this registry (BuildKit's session `Auth.FetchToken`:
   * buildx gets the token with the user's login, which then never reaches tbuild). Asked for each
   * token a bearer challenge needs; wins over the fields above for bearer challenges.
   */
  fetchToken?: (req: TokenRequest) => Promise<FetchedToken>;
}

export interface TokenRequest {
  realm: string;
  service?: string;
  scopes: readonly string[];
}

export interface FetchedToken {
  token: string;
  /** Seconds; 0 or absent: the spec's default of 60. */
  expiresIn?: number;
  /** Seconds since 1970. */
  issuedAt?: number;
}

/** Where credentials come from: Docker's config.json, cred helpers, or an X-Registry-Auth header. */
export interface CredentialStore {
  /** Credentials for a registry host (`docker.io`, `127.0.0.1:5000`), or undefined (anonymous). */
  get(host: string): Promise<Credentials | undefined>;
  store?(host: string, creds: Credentials): Promise<void>;
  /** Returns false when nothing was stored for the host. */
  erase?(host: string): Promise<boolean>;
}

/** How to reach registries: dockerd's `insecure-registries`, `registry-mirrors`, certs.d. */
export interface RegistryOptions {
  /** Hosts (`host:port`) or CIDRs allowed over plain HTTP or unverified TLS. Loopback always is. */
  insecure?: string[];
  /** Mirrors for docker.io (`https://mirror.example`), tried in order before docker.io itself. */
  mirrors?: string[];
  /** Directory of per-host CA and client certificates; default `/etc/docker/certs.d`. */
  certsDir?: string;
  credentials?: CredentialStore;
  /** Per-request timeout while waiting for headers or between body chunks; default 30 s. */
  timeoutMs?: number;
  /** Attempts for an idempotent request whose connection fails; default 3. */
  attempts?: number;
  userAgent?: string;
}

/** One progress event of a transfer, with Docker's wording in `status`. */
export interface TransferProgress {
  /** Short id (12 hex characters of the blob digest) or undefined for repository-wide lines. */
  id?: string;
  status: string;
  current?: number;
  total?: number;
}

export type ProgressSink = (p: TransferProgress) => void;

export interface Fetcher {
  /** A manifest or index by tag or digest; checked against the digest when one is known; at most 4 MB. */
  manifest(tagOrDigest: string): Promise<Resolved>;
  /**
   * A blob's bytes as a stream that fails (TB_CONTENT_DIGEST_MISMATCH / TB_CONTENT_SIZE_MISMATCH)
   * at its end when what arrived does not match the descriptor. Redirects are followed without
   * sending the registry's Authorization to another host. With `verify: false` the bytes are
   * passed on unchecked, for a caller that checks them itself (a content-store writer with the
   * digest and size expected): hashing them twice costs a pull a tenth of its time.
   */
  blob(desc: Descriptor, onBytes?: (n: number) => void, opts?: { verify?: boolean }): Promise<Readable>;
  /** A small blob (config) read whole and verified. */
  blobBytes(desc: Descriptor): Promise<Buffer>;
}

export interface Pusher {
  /** HEAD: whether the repository already has the blob. */
  hasBlob(digest: Digest): Promise<boolean>;
  /** Cross-repository mount; false when the registry started an upload instead (then nothing was mounted). */
  mountBlob(digest: Digest, fromPath: string): Promise<boolean>;
  /** Upload bytes whose digest is known (monolithic POST+PUT). */
  putBlob(data: Buffer, digest?: Digest): Promise<Descriptor>;
  /**
   * Upload a stream whose digest is computed while sending (POST, PATCH, PUT ?digest=).
   * Resolves to its digest and size.
   */
  pushStream(data: Readable, onBytes?: (n: number) => void): Promise<{ digest: Digest; size: number }>;
  /** PUT a manifest under a tag or its digest; returns its digest. */
  putManifest(tagOrDigest: string, mediaType: string, bytes: Buffer): Promise<Digest>;
}

export interface RegistryClient {
  fetcher(repo: RepositoryRef): Fetcher;
  /** `extraPullScopes`: other repositories of the same registry blobs may be mounted from. */
  pusher(repo: RepositoryRef, extraPullScopes?: string[]): Pusher;
  /** Every tag of a repository (`GET /v2/NAME/tags/list`, all pages), in the registry's order. */
  tags(repo: RepositoryRef): Promise<string[]>;
  /** Check credentials against `/v2/` (and a token for the registry when it uses tokens). */
  login(host: string, creds: Credentials): Promise<void>;
  /** Release connections. */
  close(): Promise<void>;
}

/** Credentials given with one request (X-Registry-Auth, `--creds`), for one registry host. */
export interface RequestAuth {
  host: string;
  credentials: Credentials;
}

export interface PullRequest {
  /** `os/arch[/variant]`; default the host's. */
  platform?: string;
  /**
   * `docker pull --platform`: an image that is no index, of another platform than `platform`, is
   * kept (as dockerd keeps it) but the pull fails, naming both platforms.
   */
  requirePlatform?: boolean;
  onProgress?: ProgressSink;
  auth?: RequestAuth;
  /** Layers downloaded at once; default 3. */
  concurrency?: number;
}

export interface PulledImage {
  image: ImageRecord;
  /** Normalized reference pulled (`docker.io/library/busybox:latest` or `…@sha256:…`). */
  name: string;
  /** Digest of the top-level manifest (or index) the name resolved to. */
  digest: Digest;
  /** The image was already here under this name. */
  upToDate: boolean;
}

/** What `docker pull -a` pulled: every tag of one repository. */
export interface PulledRepository {
  /** Normalized repository name (`docker.io/library/busybox`). */
  name: string;
  /** The tags pulled, in the registry's order. */
  pulled: string[];
  /** Tags that could not be pulled (Docker goes on with the others), with why. */
  failed: { tag: string; message: string }[];
  /** Every pulled tag was already here as it is on the registry. */
  upToDate: boolean;
}

export interface PushRequest {
  onProgress?: ProgressSink;
  auth?: RequestAuth;
  /** Layers uploaded at once; default 3. */
  concurrency?: number;
  /** Push this local image (id or name) under the reference instead of the image it names. */
  image?: string;
  /** Push these local images (ids) as one manifest list under the reference (a multi-platform build). */
  platforms?: Array<{ image: string; platform: Platform }>;
}

export interface PushedImage {
  /** Normalized reference pushed. */
  name: string;
  tag: string;
  digest: Digest;
  size: number;
}

/** `GET /distribution/{name}/json`: what a name resolves to on its registry, without pulling. */
export interface DistributionInfo {
  Descriptor: { mediaType: string; digest: Digest; size: number };
  Platforms: Platform[];
}

/**
 * What an engine offers on registries: the embedded engine does the work, the CLI's remote engine
 * asks the daemon. The same interface either way.
 */
export interface Registries {
  pull(ref: string, req?: PullRequest): Promise<PulledImage>;
  push(ref: string, req?: PushRequest): Promise<PushedImage>;
  /** Every tag of `repository` (`docker pull -a`); fails only when no tag could be pulled. */
  pullAllTags(repository: string, req?: PullRequest): Promise<PulledRepository>;
  /** Check credentials against a registry (`login`, `POST /auth`); stores nothing. */
  checkLogin(host: string, credentials: Credentials): Promise<void>;
  /** Resolve a name on its registry (the manifest or index and the platforms it offers). */
  distribution(ref: string, auth?: RequestAuth): Promise<DistributionInfo>;
  close(): Promise<void>;
}

/** A registry client for one piece of work (credentials given for it, or the stored ones); `release` when done. */
export interface RegistryClientSource {
  openClient(auth?: RequestAuth): Promise<{ client: RegistryClient; release: () => Promise<void> }>;
}
