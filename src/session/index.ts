/** The build context: opening it (dir or tar) and content checksums for cache keys. */
export type { BuildContext, ChecksumOptions, IgnoreMatcher, OpenContextOptions, SourceTree, StatCache } from './types.js';
export { openContext } from './open.js';
export { checksumSources } from './checksum.js';
export { compilePatterns } from './ignore.js';
export { contextView, type ContextView } from './view.js';
