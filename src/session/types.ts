import type { Readable } from 'node:stream';
import type { Digest } from '../util/digest.js';

/**
 * The build context: the files `COPY`/`ADD` (without `--from`) and `RUN --mount=type=bind` read.
 *
 * Lifecycle: `openContext()` → use → `dispose()`. A directory context is used in place (never
 * copied); a tar context is extracted once into `<root>/tmp/ctx-*` and removed by `dispose()`.
 * `dispose()` also persists the stat cache, so the next build of the same directory re-reads only
 * files whose (size, mtime, ctime, inode) changed.
 */

/**
 * `.dockerignore` matching (written by the shell/parser owner in `src/parser/dockerignore.ts`;
 * restated here structurally so this module compiles on its own).
 * Paths are slash-separated, relative to the context root, no leading `./` or `/`.
 */
export interface IgnoreMatcher {
  /** True when `rel` is excluded from the context (last matching pattern wins). */
  matches(rel: string): boolean;
  /** True when nothing below directory `rel` can be re-included (no `!` exception reaches inside). */
  canSkipDir(rel: string): boolean;
}

/** A tree that COPY reads from and whose selections can be checksummed. */
export interface SourceTree {
  /** Absolute host directory: the tree's `/`. Source paths never resolve outside it. */
  readonly dir: string;
  /** Entries it matches do not exist as far as COPY and checksums are concerned. */
  readonly ignore?: IgnoreMatcher;
  /** Persistent stat → content-hash cache; absent means hash every selected file. */
  readonly statCache?: StatCache;
}

/** The build context as the solver and the frontend see it. */
export interface BuildContext extends SourceTree {
  readonly ignore: IgnoreMatcher;
  readonly statCache: StatCache;
  /** Absolute host path of the Dockerfile (may lie outside `dir` for `-f /elsewhere/Dockerfile`). */
  readonly dockerfilePath: string;
  /** The Dockerfile text: always available, even when `.dockerignore` excludes the Dockerfile. */
  readonly dockerfileText: string;
  /** True when the context came from a tar stream (then `dir` is a temp dir owned by this object). */
  readonly fromTar: boolean;
  /** Save the stat cache; remove the extracted temp dir of a tar context. Idempotent. */
  dispose(): Promise<void>;
}

export interface OpenContextOptions {
  /** State root: the stat cache lives in `<root>/cache/stat/`, tar contexts extract into `<root>/tmp/`. */
  root: string;
  /**
   * Dockerfile path: absolute, or relative to the context dir. Default `Dockerfile`.
   * For tar contexts a relative path is looked up inside the tar (as `docker build -` does).
   */
  dockerfile?: string;
  /** The Dockerfile text given directly: no file lookup; `dockerfile` only names it. */
  dockerfileText?: string;
  signal?: AbortSignal;
}

export type ContextSource = string | { tar: Readable } | HeldTree;

/**
 * A directory nobody writes while it is held (a git commit's kept files): used in place, its
 * hashes remembered at once (no file of it can change within a timestamp tick), released by
 * `dispose()`.
 */
export interface HeldTree {
  tree: string;
  release(): void;
}

/**
 * Open a build context.
 * - `string`: an existing directory (TB_CONTEXT_INVALID if it is not one).
 * - `{ tree, release }`: a held directory (see HeldTree).
 * - `{ tar }`: a tar stream, plain/gzip/bzip2/xz detected by magic bytes. Entries are extracted via
 *   root confinement; an entry that climbs out (`../x`) or a device node is refused with
 *   TB_TAR_HOSTILE (nothing is left behind); a corrupt stream gives TB_TAR_FORMAT.
 * `.dockerignore` (or `<Dockerfile>.dockerignore` beside the Dockerfile) is loaded and applied.
 * A missing Dockerfile (when no text is given) is TB_CONTEXT_INVALID naming the path.
 *
 * @example
 * const ctx = await openContext('./app', { root });
 * try { const key = await checksumSources(ctx, ['src', '*.json']); } finally { await ctx.dispose(); }
 */
export type OpenContext = (src: ContextSource, opts: OpenContextOptions) => Promise<BuildContext>;

export interface ChecksumOptions {
  /** `--exclude` patterns (dockerignore syntax), as COPY applies them. */
  excludes?: string[];
  /** `--parents`: selection keeps parent paths (`a/./b` pivots); changes what is selected. */
  parents?: boolean;
  signal?: AbortSignal;
}

/**
 * Content checksum of what a COPY/ADD would read from `tree` for `sources` (the expanded source
 * words, wildcards kept; heredoc sources are not paths: they belong in the op digest).
 *
 * Covers, for every selected entry: its path (relative to the tree root, with the top-level source
 * named as written, e.g. a followed top-level symlink keeps the link's name), type, permission bits
 * incl. setuid/setgid/sticky, symlink target and file content (sha256). Not mtime, not uid/gid,
 * not ignored or excluded entries, not files outside the selection: changing an unrelated file
 * keeps the checksum.
 *
 * Errors exactly as the copy would: TB_COPY_SOURCE_NOT_FOUND (message names the source, BuildKit
 * style `failed to calculate checksum of ref …: "/missing-file.txt": not found`). A wildcard that
 * matches nothing contributes nothing (not an error, as in BuildKit).
 */
export type ChecksumSources = (tree: SourceTree, sources: string[], opts?: ChecksumOptions) => Promise<Digest>;

/** Counters for tests and `--debug` output. */
export interface StatCacheStats {
  /** Content hashes served from the cache (file not read). */
  hits: number;
  /** Files read and hashed. */
  misses: number;
}

/**
 * Maps a file's stat tuple (size, mtime ns, ctime ns, inode) to its sha256 content hash.
 * Entries touched within the last 100 ms are not remembered (a write in the same timestamp tick
 * could otherwise hide a change).
 */
export interface StatCache {
  readonly stats: StatCacheStats;
  /** The content hash of the regular file at absolute `path` (reads it only on a miss). */
  hashFile(path: string, st: import('node:fs').BigIntStats): Promise<string>;
  /** Persist (write-temp + rename). No-op when nothing changed. */
  save(): Promise<void>;
}

/** Where a build secret comes from (`--secret id=…,src=…|env=…`). */
export interface SecretSource {
  /** Read the secret from this host file… */
  src?: string;
  /** …or from this environment variable of the client… */
  env?: string;
  /** …or take these bytes (library and daemon callers). */
  data?: Uint8Array;
}
