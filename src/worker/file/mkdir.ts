import { posix } from 'node:path';
import { resolveChown } from '../../exec/user.js';
import { mkdirAllInRoot } from './fsutil.js';
import type { MkdirRequest } from './types.js';

/** WORKDIR: create the directory (and parents) owned by the current USER; existing dirs are untouched. */
export async function mkdirInRoot(req: MkdirRequest): Promise<void> {
  const path = posix.normalize(req.path.startsWith('/') ? req.path : posix.join('/', req.workdir ?? '/', req.path));
  const owner = req.user && req.user !== 'root' && req.user !== '0' ? await resolveChown(req.destRoot, req.user) : { uid: 0, gid: 0 };
  await mkdirAllInRoot(req.destRoot, path, req.mode ?? 0o755, owner);
}
