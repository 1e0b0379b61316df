import { hostPlatform, parsePlatform } from '../util/platform.js';
import type { Readable } from 'node:stream';
import type { ContainerConfig, ImageConfig, ImageRecord } from './types.js';
import type { ArchiveContext } from './load-plan.js';
import { importLayers } from './layers.js';
import { applyChange } from './changes.js';
import { normalizeTagReference } from './reference.js';
import { isTbuildError, TbuildError } from '../errors.js';

export interface ImportOptions {
  /** `NAME[:TAG]` to tag the new image with. */
  name?: string;
  /** `--change` lines (Dockerfile instructions). */
  changes?: string[];
  /** `--message`: the history comment. */
  message?: string;
  /** `--platform os/arch[/variant]`; default this machine's. */
  platform?: string;
  /** Creation time; default now (SOURCE_DATE_EPOCH when set, for reproducible imports). */
  created?: Date;
}

function defaultCreated(epoch: number | undefined): Date {
  return epoch !== undefined ? new Date(epoch * 1000) : new Date();
}

/**
 * `import ROOTFS.tar NAME[:TAG]`: one-layer image from a filesystem tarball (plain or compressed).
 * The layer is the tar regenerated from what was extracted (normalized, sorted), so its diffID
 * does not depend on how the input tar was written.
 */
export async function importRootfs(ctx: ArchiveContext, input: Readable, opts: ImportOptions = {}): Promise<ImageRecord> {
  // Check everything the user typed before touching storage.
  const name = opts.name ? normalizeTagReference(opts.name) : undefined;
  const config: ContainerConfig = {};
  for (const line of opts.changes ?? []) applyChange(config, line);
  const platform = opts.platform ? parsePlatform(opts.platform) : hostPlatform();
  const created = (opts.created ?? defaultCreated(ctx.sourceDateEpoch)).toISOString().replace(/\.000Z$/, 'Z');

  const layers = await importLayers(ctx, [{ open: () => input }]).catch((err: unknown) => {
    if (isTbuildError(err)) throw err;
    throw new TbuildError('TB_TAR_FORMAT', `cannot import: ${(err as Error).message}`, { cause: err });
  });
  const imageConfig: ImageConfig = {
    ...platform,
    created,
    ...(opts.message ? { comment: opts.message } : {}),
    config,
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: [{ created, created_by: 'Imported from -', ...(opts.message ? { comment: opts.message } : {}) }],
  };
  return ctx.images.create({ config: imageConfig, layers, ...(name ? { names: [name] } : {}) });
}
