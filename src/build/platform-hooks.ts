import type { CacheExportItem } from '../remotecache/export.js';
import type { CacheExportSpec } from '../remotecache/types.js';
import type { ImageRecord } from '../images/types.js';
import type { BuildOptions } from './types.js';

/**
 * What a multi-platform build (`build/multi-platform.ts`) asks of each platform's build, keyed by
 * that build's options, so the library's `BuildOptions` carries nothing of it.
 */
export interface PlatformHooks {
  /**
   * One cache for all the platforms, as BuildKit exports it: each platform's build hands its
   * records for a `--cache-to` and the function that exports records; one platform exports every
   * platform's records, and the others wait until it has, so the results it reads stay leased by
   * their builds until then.
   */
  mergeCache(spec: CacheExportSpec, items: CacheExportItem[], exportItems: (items: CacheExportItem[]) => Promise<void>): Promise<void>;
  /** The image the platform's build stored, so that it is removed if the whole build fails. */
  stored(record: ImageRecord): void;
}

export const platformHooks = new WeakMap<BuildOptions, PlatformHooks>();
