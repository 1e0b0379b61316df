import { TbuildError } from '../errors.js';

/**
 * What a `--build-context NAME=VALUE` names: an image (`docker-image://REF`) or a local directory
 * (a path). BuildKit also takes git and HTTP URLs, OCI layouts and other targets there; tbuild says
 * so for those rather than building something else.
 */
export function parseNamedContext(name: string, value: string): { image: string } | { dir: string } {
  const m = /^docker-image:\/\/(.+)$/.exec(value);
  if (m) return { image: m[1]! };
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//.exec(value)?.[1] ?? /^(local|input|target|oci-layout):/.exec(value)?.[1];
  if (scheme) throw new TbuildError('TB_INVALID_ARGUMENT', `--build-context ${name}=${value}: ${scheme} contexts are not supported by tbuild (docker-image://REF and local directories are)`);
  return { dir: value };
}
