import type { Digest } from '../../util/digest.js';
import type { SourceRange } from '../../errors.js';

/**
 * The build graph: content-addressed vertices. A vertex digest covers its op and its inputs'
 * digests only; display names and Dockerfile ranges live beside the graph in `Definition`,
 * so reformatting a Dockerfile (comments, blank lines, continuations) keeps every digest.
 */

/** Where a vertex's filesystem starts from. */
export type SourceOp =
  | { type: 'source'; source: 'scratch' }
  /** A local image; `imageId` pins the content so a re-tagged name busts the cache. */
  | { type: 'source'; source: 'image'; ref: string; imageId: Digest };

/** A file a RUN sees that is not in any snapshot (heredoc scripts). Content is in the digest. */
export interface InlineFile {
  /** Absolute container directory the file is mounted under (read-only). */
  dir: string;
  name: string;
  content: string;
  mode: number;
}

export type ExecMount =
  /** `input` indexes the vertex inputs; undefined means the build context. */
  | { type: 'bind'; target: string; input?: number; source: string; readonly: boolean }
  | {
      type: 'cache';
      target: string;
      id: string;
      sharing: 'shared' | 'private' | 'locked';
      readonly: boolean;
      uid: number;
      gid: number;
      mode: number;
      /** Seed the cache from this input's `source` path when the cache is new. */
      input?: number;
      source?: string;
    }
  | { type: 'tmpfs'; target: string; size?: number }
  /** Only the id and where it goes: the secret's bytes never enter a digest, key, layer or log. */
  | { type: 'secret'; target?: string; id: string; env?: string; required: boolean; mode: number; uid: number; gid: number }
  /** An ssh-agent socket forwarded from the client (`--ssh ID`); like a secret, only its id is keyed. */
  | { type: 'ssh'; target: string; id: string; required: boolean; mode: number; uid: number; gid: number };

/** RUN: input 0 is the root filesystem; more inputs are mount sources. */
export interface ExecOp {
  type: 'exec';
  args: string[];
  env: string[];
  cwd: string;
  user: string;
  /** `default`: a namespace on the default bridge (NAT out), as BuildKit's default network. */
  network: 'default' | 'none' | 'host';
  /** `--add-host NAME:IP` lines for /etc/hosts (IP may be `host-gateway`); part of the digest, as in BuildKit. */
  extraHosts?: string[];
  mounts: ExecMount[];
  inline: InlineFile[];
  /** RUN --security=insecure (granted by the security.insecure entitlement): a privileged container. */
  security?: 'insecure';
  /** `os/arch[/variant]` of a stage whose binaries this machine runs only under emulation. */
  platform?: string;
}

/** Where a COPY/ADD reads from. */
/** Where COPY reads: the build context, an input's filesystem, or a local named context (`--build-context NAME=DIR`). */
export type CopyFrom = { type: 'context' } | { type: 'input'; index: number } | { type: 'named'; name: string };

export interface CopyAction {
  kind: 'copy';
  /** Expanded source paths/patterns, relative to the source root. */
  sources: string[];
  /** Expanded destination; relative ones resolve against `workdir`. */
  dest: string;
  workdir: string;
  from: CopyFrom;
  /** `--chown` as written after expansion (`user:group`, uid…); resolved against the dest's /etc files. */
  chown?: string;
  /** Octal mode string after expansion. */
  chmod?: string;
  parents: boolean;
  excludes: string[];
  link: boolean;
  /** ADD semantics: local tar archives are extracted, http(s) sources are downloaded. */
  add: boolean;
  /** `ADD --keep-git-dir`: git sources keep their `.git`. */
  keepGitDir?: boolean;
  /** `ADD --checksum=sha256:…` for http(s) sources: the download must hash to it (and it keys the step). */
  checksum?: string;
  unpack?: boolean;
  /** Heredoc files (`COPY <<EOF /dest`), content already expanded when the heredoc allows it. */
  inline: Array<{ name: string; content: string }>;
  /**
   * `--link`: input 0 is scratch, not the stage; this input (the stage) is only where `--chown`
   * names are looked up, present when the chown spec has names.
   */
  chownFrom?: number;
}

export interface MkdirAction {
  kind: 'mkdir';
  path: string;
  mode: number;
  /** USER at this point: a WORKDIR it creates belongs to that user. */
  user: string;
}

/** COPY/ADD/WORKDIR: input 0 is the destination filesystem, input 1 (if any) the copy source. */
export interface FileOp {
  type: 'file';
  action: CopyAction | MkdirAction;
}

/**
 * `COPY --link`: input 0's filesystem with input 1's layers applied on top as they are. The copy
 * itself was made on scratch, so its cache key does not depend on what it lands on.
 */
export interface MergeOp {
  type: 'merge';
}

export type Op = SourceOp | ExecOp | FileOp | MergeOp;

export interface Vertex {
  digest: Digest;
  op: Op;
  inputs: Digest[];
}

export interface VertexMeta {
  /** `[stage-1 2/5] RUN make` */
  name: string;
  range?: SourceRange;
  /** Stage names/indices this vertex was converted for (for --no-cache-filter). */
  stages: string[];
  /** For RUN failures: the command as the user wrote it. */
  command?: string;
}

export interface Definition {
  vertices: Map<Digest, Vertex>;
  /** Names and ranges, beside the graph and never inside digests. */
  meta: Map<Digest, VertexMeta>;
  /** The Dockerfile path shown in errors. */
  file: string;
  source: string;
}
