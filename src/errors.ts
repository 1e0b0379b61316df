/**
 * One catalogue of error codes. Callers match on `code`, never on message text.
 * `status` is the HTTP status the daemon answers with; the CLI exits non-zero for all.
 * Add a code here (with its status) before throwing it anywhere.
 */
export const ERROR_CODES = {
  // parser / front end
  TB_PARSE_EMPTY: 400,
  TB_PARSE_NO_FROM: 400,
  TB_PARSE_UNKNOWN_INSTRUCTION: 400,
  TB_PARSE_BAD_FLAG: 400,
  TB_PARSE_BAD_ARGS: 400,
  TB_PARSE_BAD_JSON: 400,
  TB_PARSE_HEREDOC: 400,
  TB_PARSE_ONBUILD: 400,
  TB_PARSE_DIRECTIVE: 400,
  TB_PARSE_MOUNT: 400,
  TB_PARSE_TOO_LARGE: 400,
  TB_EXPAND: 400,
  TB_EXPAND_REQUIRED: 400,
  TB_STAGE_NOT_FOUND: 400,
  TB_STAGE_CIRCULAR: 400,
  TB_STAGE_DUPLICATE: 400,
  TB_CHECK_FAILED: 400,
  TB_DOCKERIGNORE: 400,
  TB_BAD_PORT: 400,
  // storage
  TB_CONTENT_NOT_FOUND: 404,
  TB_CONTENT_DIGEST_MISMATCH: 400,
  TB_CONTENT_SIZE_MISMATCH: 400,
  TB_CONTENT_EXISTS: 409,
  TB_SNAPSHOT_NOT_FOUND: 404,
  TB_SNAPSHOT_EXISTS: 409,
  TB_SNAPSHOT_STATE: 409,
  TB_MOUNT: 500,
  TB_PATH_ESCAPE: 400,
  TB_TAR_HOSTILE: 400,
  TB_TAR_FORMAT: 400,
  TB_DECOMPRESSION_LIMIT: 400,
  TB_LOCKED: 409,
  TB_LOCK_FAILED: 500,
  // images
  TB_IMAGE_NOT_FOUND: 404,
  TB_IMAGE_IN_USE: 409,
  TB_IMAGE_AMBIGUOUS: 409,
  TB_REFERENCE_INVALID: 400,
  TB_ARCHIVE_INVALID: 400,
  // registries
  TB_REGISTRY_UNAUTHORIZED: 401,
  TB_REGISTRY_DENIED: 403,
  TB_REGISTRY_NOT_FOUND: 404,
  TB_REGISTRY_UNREACHABLE: 502,
  TB_REGISTRY_INSECURE: 400,
  TB_REGISTRY_PROTOCOL: 502,
  TB_PLATFORM_NOT_FOUND: 404,
  TB_PLATFORM_EMULATION: 500,
  TB_CREDENTIALS: 500,
  // runtime
  TB_RUNTIME_MISSING: 500,
  TB_RUNTIME_FAILED: 500,
  TB_EXEC_NONZERO: 500,
  TB_EXEC_CANCELLED: 500,
  TB_USER_UNKNOWN: 400,
  TB_CONTAINER_NOT_FOUND: 404,
  TB_BUILD_RECORD_NOT_FOUND: 404,
  TB_DEBUG_STATE_NOT_FOUND: 404,
  TB_CONTAINER_STATE: 409,
  TB_CONTAINER_NAME_IN_USE: 409,
  TB_VOLUME_NOT_FOUND: 404,
  TB_VOLUME_IN_USE: 409,
  // security (src/exec/security, entitlements, transport)
  TB_SECCOMP_PROFILE_MISSING: 500,
  TB_SECCOMP_PROFILE_INVALID: 400,
  TB_INIT_MISSING: 500,
  TB_SECURITY_OPT_UNSUPPORTED: 400,
  TB_ENTITLEMENT_DENIED: 403,
  TB_INSECURE_TRANSPORT: 400,
  // solver / build
  TB_COPY_SOURCE_NOT_FOUND: 400,
  TB_COPY_DEST_NOT_DIR: 400,
  TB_COPY_DEST_IS_DIR: 400,
  TB_ADD_REMOTE_UNSUPPORTED: 501,
  TB_ADD_HTTP: 502,
  TB_ADD_GIT: 502,
  TB_ADD_CHECKSUM_MISMATCH: 400,
  TB_BUILD_CANCELLED: 499,
  TB_BUILD_FAILED: 500,
  TB_SECRET_NOT_FOUND: 400,
  TB_CONTEXT_INVALID: 400,
  // api / cli
  TB_API_BAD_REQUEST: 400,
  TB_API_NOT_FOUND: 404,
  TB_API_VERSION: 400,
  TB_INVALID_ARGUMENT: 400,
  TB_FORMAT_TEMPLATE: 400,
  TB_CONFIG_INVALID: 400,
  TB_DAEMON_UNREACHABLE: 503,
  // networking
  TB_NETWORK_NOT_FOUND: 404,
  TB_NETWORK_EXISTS: 409,
  TB_NETWORK_IN_USE: 403,
  TB_NETWORK_BACKEND_MISSING: 500,
  TB_NETWORK_FAILED: 500,
  TB_NETWORK_EXHAUSTED: 500,
  TB_PORT_IN_USE: 500,
  TB_NOT_IMPLEMENTED: 501,
  // BuildKit's gRPC API (buildx)
  TB_BUILDKIT_UNSUPPORTED: 400,
  TB_SSH_NOT_FOUND: 400,
  TB_BUILDKIT_SESSION: 400,
  TB_BUILDKIT_SYNC: 400,
  // the machine
  TB_NO_SPACE: 507,
  TB_INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** A place in a Dockerfile. Lines are 1-based and inclusive, as BuildKit prints them. */
export interface SourceRange {
  startLine: number;
  endLine: number;
  startCol?: number;
  endCol?: number;
}

export interface TbuildErrorOptions {
  /** Where in the Dockerfile the error comes from, when it comes from one. */
  range?: SourceRange;
  /** The Dockerfile path (for rendering `Dockerfile:3`). */
  file?: string;
  cause?: unknown;
  /** Extra machine-readable facts (exit code, output tail, suggestion, …). */
  details?: Record<string, unknown>;
}

export class TbuildError extends Error {
  readonly code: ErrorCode;
  range?: SourceRange;
  file?: string;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, opts: TbuildErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'TbuildError';
    this.code = code;
    this.range = opts.range;
    this.file = opts.file;
    this.details = opts.details ?? {};
  }

  get status(): number {
    return ERROR_CODES[this.code];
  }
}

export function isTbuildError(err: unknown, code?: ErrorCode): err is TbuildError {
  return err instanceof TbuildError && (code === undefined || err.code === code);
}

/** Attach a Dockerfile range to an error thrown below the parser, keeping any range it already has. */
export function withRange<T extends Error>(err: T, range: SourceRange | undefined, file?: string): T {
  if (err instanceof TbuildError) {
    err.range ??= range;
    err.file ??= file;
  }
  return err;
}
