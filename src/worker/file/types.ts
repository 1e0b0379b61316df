import type { IgnoreMatcher } from '../../session/types.js';

/**
 * COPY / ADD / WORKDIR as pure filesystem operations between host directories. No mounting here:
 * the FileOp vertex mounts the destination snapshot (and the source stage/image) and passes the
 * mount points. Every destination path goes through root confinement: symlinks in the destination
 * rootfs are followed as if the rootfs were `/`, never outside it.
 */

/** A heredoc source (`COPY <<EOF /dest`): written as a file, mode 0644 unless `chmod`. */
export interface InlineSource {
  /** The heredoc name: the file name when the destination is a directory. */
  name: string;
  content: string;
}

/** One COPY/ADD. Shaped like the solver's `CopyAction` plus the host directories it works on. */
export interface CopyRequest {
  /**
   * Absolute host dir of the source tree: the context dir, or the mounted rootfs of a stage/image.
   * Sources resolve inside it (`../x` is clamped to `/x`; a top-level symlink is followed within it).
   * May be omitted when there are only inline sources.
   */
  srcRoot?: string;
  /** `.dockerignore` of the context (ignored entries do not exist). Absent for `--from` sources. */
  ignore?: IgnoreMatcher;
  /** Expanded source words, wildcards (`*`, `?`, `[…]`, per path component) kept. */
  sources: string[];
  /** Heredoc sources, copied after `sources`. */
  inline?: InlineSource[];
  /** Absolute host dir of the destination rootfs (the mounted target; an empty dir for `--link`). */
  destRoot: string;
  /** Expanded destination. A trailing `/` (or `.`) means a directory; relative resolves against `workdir`. */
  dest: string;
  /** WORKDIR at this step (absolute container path); default `/`. */
  workdir?: string;
  /**
   * `--chown` spec (`user`, `user:group`, numeric). Names resolve in `chownRoot`'s /etc/passwd and
   * /etc/group (`resolveChown` of src/exec/user.ts); a bare uid is also the gid. Without it,
   * see `keepOwner`.
   */
  chown?: string;
  /**
   * Without `--chown`, copied entries keep their source uid/gid (BuildKit: COPY --from a stage or
   * image preserves ownership) instead of becoming 0:0 (context files). Default: true when
   * `ignore` is absent (a stage/image source), false for the context. Pass it explicitly.
   */
  keepOwner?: boolean;
  /** Where `--chown` names are looked up; default `destRoot`. For `--link` pass the parent's rootfs. */
  chownRoot?: string;
  /** `--chmod`: octal (`0755`, `750`) or symbolic (`u+x,g-w`, `a=rX`), applied to files and dirs copied. */
  chmod?: string;
  /** `--parents`: keep source parent dirs (`a/./b/c` keeps `b/c` only). */
  parents?: boolean;
  /**
   * `--exclude` patterns (dockerignore syntax). Matched against paths relative to each selected
   * directory, and against the base name of each wildcard match (`--exclude=*.txt hom*`).
   */
  excludes?: string[];
  /** ADD: local tar archives (plain/gz/bz2/xz, by content) are extracted into the destination dir. */
  add?: boolean;
  /** ADD `--unpack`: undefined = default (extract local archives), false = copy archives as files. */
  unpack?: boolean;
  signal?: AbortSignal;
}

export interface CopyStats {
  /** Regular files written (copied, extracted or inline). */
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  /** Bytes of regular-file content written. */
  bytes: number;
}

/**
 * Perform one COPY/ADD into `destRoot`, with BuildKit's semantics:
 * - a directory source (and `.`) copies its contents; files keep their permission bits and mtime;
 *   symlinks inside copied dirs stay symlinks; hardlinks within one copy stay hardlinks;
 * - several sources (or a wildcard) need a directory destination (trailing `/`) or an existing dir,
 *   else TB_COPY_DEST_NOT_DIR; a missing source → TB_COPY_SOURCE_NOT_FOUND naming it; a wildcard
 *   matching nothing adds nothing;
 * - missing destination parents (and a destination dir a directory source creates) are 0755, owned
 *   by the `--chown` owner (else 0:0); an existing destination dir keeps its metadata, while
 *   everything below it takes the source's mode (or `--chmod`) and mtime;
 * - owner: `--chown`, else 0:0 for context sources, else the source's own (see `keepOwner`);
 * - remote (`http(s)://`, `git@…`) sources: ADD → TB_ADD_REMOTE_UNSUPPORTED; COPY → TB_INVALID_ARGUMENT
 *   ("source can't be a URL for COPY", as BuildKit refuses it).
 * - a file never replaces a directory (TB_COPY_DEST_IS_DIR), nor a directory a file
 *   (TB_COPY_DEST_NOT_DIR); a symlink in the destination where a directory goes is followed
 *   when it leads (inside the root) to a directory;
 * - ADD extracts local archives (by content; `unpack: false` copies them): entries keep their tar
 *   owner unless `--chown`; a `..` entry → TB_TAR_HOSTILE; a corrupt one → TB_TAR_FORMAT.
 * On error the destination may hold a partial copy: the caller discards the active snapshot.
 */
export type CopyFiles = (req: CopyRequest) => Promise<CopyStats>;

/** WORKDIR: create `path` (and parents) if missing. */
export interface MkdirRequest {
  destRoot: string;
  /** Absolute container path (relative resolves against `workdir`). */
  path: string;
  workdir?: string;
  /** Default 0o755. */
  mode?: number;
  /**
   * USER at this step (`name`, `uid`, `uid:gid`, …), resolved in `destRoot`'s /etc files with the
   * chown rules (`resolveChown`, as BuildKit's mkdir with a user does); created dirs (parents
   * included) get that owner. Default root.
   * Existing dirs are left untouched.
   */
  user?: string;
}

export type MkdirInRoot = (req: MkdirRequest) => Promise<void>;
