/** File ops (COPY/ADD/WORKDIR) as filesystem operations; the FileOp vertex calls these. */
export type { CopyRequest, CopyStats, InlineSource, MkdirRequest } from './types.js';
export { copyFiles, isRemoteSource } from './copy.js';
export { mkdirInRoot } from './mkdir.js';
export { parseChmod } from './chmod.js';
export { detectCompression, isArchiveFile, openTarStream } from './archive.js';
export { untar } from './untar.js';
