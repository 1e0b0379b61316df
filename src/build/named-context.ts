import { TbuildError } from '../errors.js';

/**
 * The image a `--build-context NAME=VALUE` names. BuildKit also takes local directories, git and
 * HTTP URLs, OCI layouts and other targets there; tbuild carries out `docker-image://` only, and
 * says so for the rest rather than building something else.
 */
export function namedContextImage(name: string, value: string): string {
  const m = /^docker-image:\/\/(.+)$/.exec(value);
  if (m) return m[1]!;
  const kind = /^([a-z-]+):\/\//.exec(value)?.[1] ?? (/^(local|input|target):/.exec(value)?.[1] ?? 'a local directory');
  throw new TbuildError('TB_INVALID_ARGUMENT', `--build-context ${name}=${value}: ${kind === 'a local directory' ? kind : `${kind} contexts`} as a named context is not supported by tbuild (only docker-image://REF)`);
}
