import { join } from 'node:path';
import { digestHex, sha256 } from '../util/digest.js';

/** The directory behind `RUN --mount=type=cache,id=ID` (outside every snapshot, so never in a layer or key). */
export function cacheMountPath(root: string, id: string): string {
  return join(root, 'cache', 'mounts', digestHex(sha256(id)).slice(0, 32));
}
