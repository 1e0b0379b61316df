import { TbuildError } from '../errors.js';
import { parseGitSource } from '../worker/file/git-source.js';
import { isHttpSource } from '../worker/file/http-source.js';

/**
 * What a `--build-context NAME=VALUE` names: an image (`docker-image://REF`), a git repository
 * (`https://host/repo.git#ref:subdir`, `git://…`, `git@…`) or a tarball URL (`https://…`), both
 * fetched into the build and read like a local directory, or a local directory (a path).
 * BuildKit also takes OCI layouts and bake targets there; tbuild says so for those rather than
 * building something else.
 */
export function parseNamedContext(name: string, value: string): { image: string } | { remote: string } | { dir: string } {
  const m = /^docker-image:\/\/(.+)$/.exec(value);
  if (m) return { image: m[1]! };
  if (parseGitSource(value) || isHttpSource(value)) return { remote: value };
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//.exec(value)?.[1] ?? /^(local|input|target|oci-layout):/.exec(value)?.[1];
  if (scheme) throw new TbuildError('TB_INVALID_ARGUMENT', `--build-context ${name}=${value}: ${scheme} contexts are not supported by tbuild (docker-image://REF, git and HTTP(S) URLs, and local directories are)`);
  return { dir: value };
}
