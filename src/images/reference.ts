import { TbuildError } from '../errors.js';

/**
 * Docker image references (distribution/reference grammar with Docker's normalization):
 * `busybox` → `docker.io/library/busybox`, `localhost:5000/x:1`, `repo@sha256:…`, `repo:tag@sha256:…`.
 */
export interface Reference {
  /** Registry host[:port], `docker.io` when none was given. */
  domain: string;
  /** Repository path without the domain (`library/busybox`). */
  path: string;
  tag?: string;
  digest?: string;
}

export const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
const NAME_TOTAL_MAX = 255;

// Grammar pieces, as in the distribution/reference package.
const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_NAME = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*`;
const IPV6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const DOMAIN = `(?:${DOMAIN_NAME}|${IPV6})(?::[0-9]+)?`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';

const REFERENCE_RE = new RegExp(
  `^((?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)(?::(${TAG}))?(?:@(${DIGEST}))?$`,
);
const DOMAIN_RE = new RegExp(`^${DOMAIN}$`);
const TAG_RE = new RegExp(`^${TAG}$`);
const IDENTIFIER_RE = /^[a-f0-9]{64}$/;
const SHA256_RE = /^sha256:[a-f0-9]{64}$/;

function invalid(detail?: string): TbuildError {
  return new TbuildError('TB_REFERENCE_INVALID', detail ? `invalid reference format: ${detail}` : 'invalid reference format');
}

/** Split `name` into domain and remainder the way Docker does: a first component is a domain only
 * when it contains `.` or `:`, or is `localhost`. */
function splitDomain(name: string): { domain: string; remainder: string } {
  const i = name.indexOf('/');
  let domain: string;
  let remainder: string;
  const first = i === -1 ? '' : name.slice(0, i);
  if (i === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = DEFAULT_DOMAIN;
    remainder = name;
  } else {
    domain = first;
    remainder = name.slice(i + 1);
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return { domain, remainder };
}

/**
 * Parse and normalize a reference as `docker pull/tag` accept it. No default tag is added.
 * Throws TB_REFERENCE_INVALID with Docker's wording.
 */
export function parseReference(input: string): Reference {
  const s = input.trim() === input ? input : '';
  if (s === '') throw invalid();
  if (IDENTIFIER_RE.test(s)) {
    throw new TbuildError(
      'TB_REFERENCE_INVALID',
      `invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`,
    );
  }
  // Separate tag and digest from the name before splitting the domain (a port also uses ':').
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > rest.lastIndexOf('/')) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
  }
  const { domain, remainder } = splitDomain(rest);
  if (remainder.toLowerCase() !== remainder) {
    throw invalid(`repository name (${remainder}) must be lowercase`);
  }
  const full = `${domain}/${remainder}${tag !== undefined ? `:${tag}` : ''}${digest !== undefined ? `@${digest}` : ''}`;
  const m = REFERENCE_RE.exec(full);
  if (!m || !DOMAIN_RE.test(domain)) throw invalid();
  if (m[1]!.length > NAME_TOTAL_MAX) throw invalid(`repository name must not be more than ${NAME_TOTAL_MAX} characters`);
  if (digest !== undefined && !SHA256_RE.test(digest)) {
    throw new TbuildError('TB_REFERENCE_INVALID', `invalid reference format: unsupported digest ${JSON.stringify(digest)}`);
  }
  return { domain, path: remainder, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** `parseReference`, or undefined for what is not a reference (an id prefix, say). */
export function tryParseReference(input: string): Reference | undefined {
  try {
    return parseReference(input);
  } catch {
    return undefined;
  }
}

/** The repository part: `docker.io/library/busybox`. */
export function repositoryName(ref: Reference): string {
  return `${ref.domain}/${ref.path}`;
}

export function formatReference(ref: Reference): string {
  return `${repositoryName(ref)}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/** Normalize a reference for storage, adding `:latest` when it has neither tag nor digest. */
export function normalizeReference(input: string): string {
  const ref = parseReference(input);
  if (ref.tag === undefined && ref.digest === undefined) ref.tag = 'latest';
  return formatReference(ref);
}

/** Like `normalizeReference`, but refuses digests: what `tag` and `import NAME[:TAG]` need. */
export function normalizeTagReference(input: string): string {
  const ref = parseReference(input);
  if (ref.digest !== undefined) {
    throw new TbuildError('TB_REFERENCE_INVALID', 'refusing to create a tag with a digest reference');
  }
  ref.tag ??= 'latest';
  return formatReference(ref);
}

export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

/** Shorten for display the way the Docker CLI does: `busybox:latest`, `myreg:5000/app:1`, `me/app:1`. */
export function familiarName(input: string | Reference): string {
  const ref = typeof input === 'string' ? parseReference(input) : input;
  let path = ref.path;
  let prefix = `${ref.domain}/`;
  if (ref.domain === DEFAULT_DOMAIN) {
    prefix = '';
    if (path.startsWith(OFFICIAL_REPO_PREFIX) && !path.slice(OFFICIAL_REPO_PREFIX.length).includes('/')) {
      path = path.slice(OFFICIAL_REPO_PREFIX.length);
    }
  }
  return `${prefix}${path}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/** Familiar repository name only (no tag/digest): `busybox`, `myreg:5000/app`. */
export function familiarRepository(input: string | Reference): string {
  const ref = typeof input === 'string' ? parseReference(input) : input;
  return familiarName({ domain: ref.domain, path: ref.path });
}
