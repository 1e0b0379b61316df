/** Library API: `import { Engine } from 'tbuild'`. */
export { Engine, DEFAULT_ROOT } from './engine.js';
export type { EngineOptions, EngineParts } from './engine.js';
export type { EngineApi, SystemDf, ArchiveFormat } from './api/types.js';
export type {
  BuildOptions,
  BuildResult,
  ProgressEvent,
  VertexStatus,
  StepTiming,
  OutputSpec,
  SecretSource,
} from './build/types.js';
export type { ImageRecord, ImageConfig, ContainerConfig, HistoryEntry } from './images/types.js';
export { TbuildError, isTbuildError, ERROR_CODES } from './errors.js';
export type { ErrorCode } from './errors.js';
export { parseDockerfile } from './parser/parse.js';
export { parseCacheTo, parseCacheFrom } from './remotecache/spec.js';
export type { CacheExportSpec, CacheImportSpec } from './remotecache/types.js';
