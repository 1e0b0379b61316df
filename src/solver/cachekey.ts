import { digestOf, type Digest } from '../util/digest.js';

/**
 * A vertex's cache key: its op digest (which already covers the op and its inputs' op digests),
 * the cache keys of its inputs (so a changed input result changes every step after it), and the
 * op's own content part, e.g. the checksum of just the context files a COPY reads.
 * Not in it: Dockerfile ranges and names, mtimes, unrelated context files, secret values and the
 * contents of cache mounts.
 */
export function cacheKey(opDigest: Digest, inputKeys: readonly Digest[], content: string | undefined): Digest {
  return digestOf({ op: opDigest, inputs: inputKeys, content: content ?? null });
}
