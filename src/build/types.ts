import type { Readable } from 'node:stream';
import type { Digest } from '../util/digest.js';
import type { ImageRecord } from '../images/types.js';

/** Public build API types (re-exported by `src/index.ts`). Solver internals live in `./graph/`. */

export type ProgressMode = 'auto' | 'tty' | 'plain' | 'rawjson' | 'quiet';

export interface SecretSource {
  /** Read the secret from this host file… */
  src?: string;
  /** …or from this environment variable of the client… */
  env?: string;
  /** …or take these bytes (library and daemon callers). */
  data?: Uint8Array;
}

export type OutputSpec =
  | { type: 'image'; names?: string[] }
  | { type: 'docker'; dest: string; names?: string[] }
  | { type: 'oci'; dest: string; names?: string[] }
  | { type: 'tar'; dest: string }
  | { type: 'local'; dest: string };

export interface BuildOptions {
  /** Context directory, or a tar stream of one (plain/gzip/bzip2/xz), as `tbuild build -` and POST /build send. */
  context: string | { tar: Readable };
  /** Dockerfile path: absolute, or relative to the context. Default `Dockerfile`. */
  dockerfile?: string;
  /** Dockerfile text given directly (overrides `dockerfile` lookup; the name is still used in messages). */
  dockerfileText?: string;
  buildArgs?: Record<string, string>;
  target?: string;
  tags?: string[];
  labels?: Record<string, string>;
  noCache?: boolean;
  /** Stage names whose steps must not come from the cache. */
  noCacheFilter?: string[];
  secrets?: Record<string, SecretSource>;
  /** Default network for RUN steps. */
  network?: 'default' | 'none' | 'host';
  maxParallelism?: number;
  platform?: string;
  /** Default `[{ type: 'image' }]`. */
  outputs?: OutputSpec[];
  onProgress?: (event: ProgressEvent) => void;
  signal?: AbortSignal;
}

export interface StepTiming {
  vertex: Digest;
  name: string;
  cached: boolean;
  /** Milliseconds. */
  duration: number;
}

export interface BuildResult {
  /** Config digest, as `docker images` shows it. */
  imageId: Digest;
  /** Manifest digest. */
  digest: Digest;
  image?: ImageRecord;
  steps: StepTiming[];
}

export interface VertexStatus {
  /** Vertex digest. */
  id: Digest;
  /** `[stage 2/5] RUN make` style display name. */
  name: string;
  inputs: Digest[];
  started?: number;
  completed?: number;
  cached?: boolean;
  error?: string;
}

export type ProgressEvent =
  | { type: 'vertex'; vertex: VertexStatus }
  | { type: 'log'; vertex: Digest; stream: 'stdout' | 'stderr'; data: Uint8Array; timestamp: number }
  | { type: 'status'; vertex: Digest; id: string; name: string; current: number; total?: number; completed?: boolean }
  | { type: 'warning'; message: string; rule?: string; line?: number };
