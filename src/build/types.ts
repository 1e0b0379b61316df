import type { Readable } from 'node:stream';
import type { Digest } from '../util/digest.js';
import type { Annotation } from './annotations.js';
import type { ProgressEvent, StepTiming } from '../solver/types.js';
import type { SolverShared } from '../solver/scheduler.js';
import type { SecretSource } from '../session/types.js';
import type { ImageRecord } from '../images/types.js';
import type { WorkerDeps } from '../worker/types.js';
import type { Credentials, Registries, RegistryClientSource, RequestAuth } from '../registry/types.js';
import type { CacheExportSpec, CacheImportSpec } from '../remotecache/types.js';
import type { Resources } from '../exec/types.js';

export type { ProgressEvent, StepTiming, VertexStatus } from '../solver/types.js';
export type { SecretSource } from '../session/types.js';

/** Public build API types (re-exported by `src/index.ts`), and what a build is given by the composition root. */

/** What `build()` needs: the root's stores and executor, the one solver they share, engine-wide settings. */
export interface BuildDeps extends WorkerDeps {
  /** Shared by every build on this engine, so concurrent builds share in-flight work. */
  solver: SolverShared;
  /** Engine-wide `SOURCE_DATE_EPOCH` (seconds), used when a build does not give its own. */
  sourceDateEpoch?: number;
  /** Registry access: base images missing from the store are pulled, `push` outputs pushed. Without it neither is possible. */
  registries?: Pick<Registries, 'pull' | 'push'>;
  /** Registry clients for remote build caches (`--cache-to/--cache-from type=registry`). */
  registryClients?: RegistryClientSource;
}

export type ProgressMode = 'auto' | 'tty' | 'plain' | 'rawjson' | 'quiet';

export type OutputSpec =
  | { type: 'image'; names?: string[]; push?: boolean; annotations?: Annotation[] }
  | { type: 'docker'; dest: string; names?: string[]; annotations?: Annotation[] }
  | { type: 'oci'; dest: string; names?: string[]; annotations?: Annotation[] }
  | { type: 'tar'; dest: string }
  | { type: 'local'; dest: string };

/** The limits `BuildOptions.runResources` takes. */
export type RunResources = Pick<Resources, 'memory' | 'memorySwap' | 'cpuShares' | 'cpuQuota' | 'cpuPeriod'>;

export interface BuildOptions {
  /**
   * Context directory, a git URL (`https://host/repo.git#ref:subdir`, `git://…`, `git@…`: that commit,
   * checked out shallowly), an http(s) URL of a context tarball (downloaded), or a tar stream of one (plain/gzip/bzip2/xz), as `tbuild build -` and POST /build send.
   */
  context: string | { tar: Readable };
  /** Dockerfile path: absolute, or relative to the context. Default `Dockerfile`. */
  dockerfile?: string;
  /** Dockerfile text given directly (overrides `dockerfile` lookup; the name is still used in messages). */
  dockerfileText?: string;
  buildArgs?: Record<string, string>;
  /**
   * Named contexts (`--build-context NAME=docker-image://REF`): a `FROM NAME`, `COPY --from=NAME`
   * or `RUN --mount=from=NAME` that names no stage uses image REF instead.
   */
  namedContexts?: Record<string, string>;
  /** Local named contexts (`--build-context NAME=DIR`): `COPY --from=NAME` reads DIR (its `.dockerignore` applies). */
  localContexts?: Record<string, string>;
  /**
   * Named contexts fetched for the build (`--build-context NAME=https://host/repo.git#ref:subdir`,
   * `NAME=git://…`, or `NAME=https://…/ctx.tar.gz`): read like local named contexts.
   */
  remoteContexts?: Record<string, string>;
  target?: string;
  tags?: string[];
  labels?: Record<string, string>;
  noCache?: boolean;
  /** Stage names whose steps must not come from the cache. */
  noCacheFilter?: string[];
  secrets?: Record<string, SecretSource>;
  /**
   * SSH agents by id for `RUN --mount=type=ssh` (`--ssh default`): an agent socket path, or a
   * function opening a connection to the agent (the daemon's is the buildx client's, over its session).
   */
  ssh?: Record<string, string | (() => import('node:stream').Duplex)>;
  /** Agents not in `ssh`, looked up when a step mounts them (the daemon asks the buildx client's session). */
  sshLookup?: (id: string) => (() => import('node:stream').Duplex) | undefined;
  /** Secrets not in `secrets`, fetched when a step mounts them (the daemon asks the buildx client's session). */
  secretLookup?: (id: string) => Promise<Uint8Array | undefined>;
  /** `--add-host NAME:IP` for every RUN step (IP may be `host-gateway`: the host's address on the RUN network). */
  addHosts?: string[];
  /** `--shm-size`: bytes of /dev/shm in every RUN step (default 64 MiB, as BuildKit). */
  shmSize?: number;
  /** `--ulimit name=soft[:hard]` for every RUN step. */
  ulimits?: string[];
  /**
   * Cgroup limits for every RUN step's container, as the classic builder applies `docker build
   * --memory`, `--memory-swap`, `--cpu-shares`, `--cpu-quota`, `--cpu-period` (checked as
   * `docker run` checks them). A limit is not part of a step's cache key, as there.
   */
  runResources?: RunResources;
  /** Default network for RUN steps. */
  network?: 'default' | 'none' | 'host';
  /** Entitlements granted to this build (`--allow security.insecure`). */
  allow?: string[];
  maxParallelism?: number;
  platform?: string;
  /** Default `[{ type: 'image' }]`. */
  outputs?: OutputSpec[];
  /** OCI annotations for the image's manifest (and, with type=oci, its descriptor); see build/annotations.ts. */
  annotations?: Annotation[];
  onProgress?: (event: ProgressEvent) => void;
  /** Called once with the Dockerfile's text when it has been read (from the context, a URL, or `dockerfileText`). */
  onDockerfile?: (text: string) => void;
  /**
   * Each phase of the build and of its steps as it ends (context transfer, snapshot prepare,
   * runtime setup, the process, diff, commit, export): `--trace` files and OpenTelemetry spans.
   */
  onPhase?: (span: import('../util/trace.js').PhaseSpan) => void;
  /** The client's name for this build (buildx's Solve ref): its build record, and BuildKit's history API, know it by this. */
  clientRef?: string;
  /** A W3C `traceparent`: the build's spans (OpenTelemetry) join the caller's trace. */
  traceParent?: string;
  signal?: AbortSignal;
  /** `SOURCE_DATE_EPOCH` for this build (seconds): image and history times, clamped layer mtimes. */
  sourceDateEpoch?: number;
  /** `--pull`: fetch base images from their registries even when they are stored. */
  pull?: boolean;
  /** Credentials per registry host for pulls and pushes (the daemon's X-Registry-Config). */
  registryAuth?: RequestAuth[];
  /** Credentials for a registry host not in `registryAuth`, asked when a pull or push needs them (buildx's session). */
  registryAuthLookup?: (host: string) => Promise<Credentials | undefined>;
  /** Content stores the build's client serves, by id: where `type=local` caches with a `store` live (buildx's session). */
  cacheStoreLookup?: (id: string) => import('../remotecache/types.js').ClientCacheStore | undefined;
  /** `--cache-to`: where this build's cache records and layers are exported (after the image). */
  cacheTo?: CacheExportSpec[];
  /** `--cache-from`: caches whose records this build may use (fetched lazily). */
  cacheFrom?: CacheImportSpec[];
  /** Where outputs with `dest: '-'` are written (the CLI gives its stdout); without it they are refused. */
  outputStream?: NodeJS.WritableStream;
}

export interface BuildResult {
  /** Config digest, as `docker images` shows it. */
  imageId: Digest;
  /** Manifest digest. */
  digest: Digest;
  image?: ImageRecord;
  steps: StepTiming[];
}

