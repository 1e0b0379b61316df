import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { CommitDeps } from './types.js';
import type { ImageConfig, ImageRecord } from '../images/types.js';
import { applyChange } from '../images/changes.js';
import { chainIds, IMPORT_LABEL, layerSnapshotName, nextChainId } from '../images/layers.js';
import { normalizeTagReference } from '../images/reference.js';
import { isTbuildError } from '../errors.js';
import { clearFrozen, markFrozen } from './frozen-by.js';

export interface CommitOptions {
  ref?: string;
  changes: string[];
  comment?: string;
  author?: string;
  pause?: boolean;
  /**
   * Told of the bytes as they go: first the container's changes (copied into a fresh snapshot),
   * then the new layer (written to the content store, about as large as the changes were).
   */
  onProgress?: (p: CommitProgress) => void;
}

export interface CommitProgress {
  phase: 'changes' | 'layer';
  /** Bytes since the last report. */
  bytes: number;
  /** For `layer`: the size of the changes, which the layer's tar is close to. */
  total?: number;
}

/** `tar`, with its bytes reported as they pass. */
async function* counted(tar: AsyncIterable<Buffer>, report: (n: number) => void): AsyncGenerator<Buffer> {
  for await (const chunk of tar) {
    report(chunk.length);
    yield chunk;
  }
}

/**
 * `docker commit`: the container's writable layer becomes one new layer on top of its image's
 * layers; the config is the container's effective config with `changes` applied. The layer goes
 * through a fresh snapshot (applied from the container's diff tar), so nothing of the container's
 * own snapshot is shared or moved.
 */
export async function commitContainer(engine: CommitDeps, ref: string, opts: CommitOptions): Promise<ImageRecord> {
  const name = opts.ref ? normalizeTagReference(opts.ref) : undefined;
  const c = await engine.containers.inspect(ref);
  const img = await engine.images.resolve(c.imageId);
  const config: ImageConfig['config'] = {
    ...img.config.config,
    Env: c.env,
    Cmd: c.options.cmd ?? (c.options.entrypoint ? null : (img.config.config.Cmd ?? null)),
    Entrypoint: c.options.entrypoint ?? img.config.config.Entrypoint ?? null,
    WorkingDir: c.workingDir,
    User: c.user,
    Labels: { ...(img.config.config.Labels ?? {}), ...(c.options.labels ?? {}) },
  };
  for (const line of opts.changes) applyChange(config, line);

  const running = c.state.status === 'running';
  const pause = running && opts.pause !== false;
  if (pause) {
    // recorded first: if this process dies while the container is paused, the next open resumes it
    await markFrozen(engine.root, c.id);
    await engine.containers.pause(c.id).catch(async (err: unknown) => {
      await clearFrozen(engine.root, c.id);
      throw err;
    });
  }
  let key: string | undefined = `commit-${randomBytes(8).toString('hex')}`;
  try {
    const top = img.layers.at(-1)?.snapshot;
    await engine.snapshots.prepare(key, top, { [IMPORT_LABEL]: '1' });
    const dir = await engine.snapshots.layerDir(key);
    let changed = 0;
    const diff = counted(engine.layers.tarFromDir(await engine.snapshots.layerDir(c.snapshotKey)), (n) => {
      changed += n;
      opts.onProgress?.({ phase: 'changes', bytes: n });
    });
    await engine.layers.applyTar(Readable.from(diff, { objectMode: false }), dir);
    const layer = counted(engine.layers.tarFromDir(dir), (n) => opts.onProgress?.({ phase: 'layer', bytes: n, total: changed }));
    const info = await engine.content.ingest(Readable.from(layer, { objectMode: false }));
    const parentChain = chainIds(img.config.rootfs.diff_ids).at(-1);
    const snapshot = layerSnapshotName(nextChainId(parentChain, info.digest));
    if (await engine.snapshots.exists(snapshot)) await engine.snapshots.remove(key);
    else {
      await engine.snapshots.commit(snapshot, key).catch(async (err: unknown) => {
        if (!isTbuildError(err, 'TB_SNAPSHOT_EXISTS')) throw err;
        await engine.snapshots.remove(key!);
      });
    }
    key = undefined;
    const created = new Date().toISOString();
    // The new image's comment is this commit's message (Docker's `Comment`), never the parent's.
    const { comment: _parentComment, ...parentConfig } = img.config;
    const imageConfig: ImageConfig = {
      ...parentConfig,
      created,
      ...(opts.comment ? { comment: opts.comment } : {}),
      ...(opts.author ? { author: opts.author } : {}),
      config,
      rootfs: { type: 'layers', diff_ids: [...img.config.rootfs.diff_ids, info.digest] },
      history: [
        ...(img.config.history ?? []),
        { created, created_by: [c.path, ...c.args].join(' '), ...(opts.comment ? { comment: opts.comment } : {}), ...(opts.author ? { author: opts.author } : {}) },
      ],
    };
    return await engine.images.create({
      config: imageConfig,
      layers: [...img.layers, { diffId: info.digest, size: info.size, snapshot }],
      ...(name ? { names: [name] } : {}),
    });
  } finally {
    if (key) await engine.snapshots.remove(key).catch(() => {});
    if (pause) {
      await engine.containers.unpause(c.id).catch(() => {});
      await clearFrozen(engine.root, c.id);
    }
  }
}
