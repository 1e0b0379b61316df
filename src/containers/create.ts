import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { WorkerDeps } from '../worker/types.js';
import { TbuildError } from '../errors.js';
import { requireEmulation } from '../exec/emulation.js';
import { formatPlatform, parsePlatform, platformOfConfig, samePlatform } from '../util/platform.js';
import { KEEP_LABEL } from '../cache/snapshotter.js';
import { initLayerName, prepareInitLayer } from './init-layer.js';
import { matchConfig } from './records.js';
import type { ContainerRecord, CreateContainerOptions } from './types.js';
import { effectiveCommand, mergeEnv, randomName, runtimeConfig } from './config.js';
import type { Volumes } from '../volumes/types.js';
import { containerDir, emptyState, removeDir, writeConfig, writeState, type StoredConfig } from './store.js';

/**
 * Making a container: its name, its config from options and image, its rootfs snapshot and its
 * first state on disk. Starting, stopping and removing it are the manager's (manager.ts).
 */

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Docker's name rule and uniqueness; `shown` is the name as the user wrote it, for the message. */
export function checkName(name: string, shown: string, all: StoredConfig[], selfId?: string): void {
  if (!NAME_RE.test(name)) {
    throw new TbuildError('TB_INVALID_ARGUMENT', `Invalid container name (${shown}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
  const clash = all.find((c) => c.name === name && c.id !== selfId);
  if (clash) {
    throw new TbuildError(
      'TB_CONTAINER_NAME_IN_USE',
      `Conflict. The container name "/${name}" is already in use by container "${clash.id}". You have to remove (or rename) that container to be able to reuse that name.`,
    );
  }
}

export interface CreateContext {
  root: string;
  parts: WorkerDeps;
  volumes: Volumes;
  /** Every container's config, for name checks. */
  all: StoredConfig[];
  /** Called once the image is resolved: a start usually follows, so its shim can boot meanwhile. */
  prewarm(): void;
  /**
   * Called with the config on disk; what it returns is create's result. A synchronous throw undoes
   * the create; a rejection of the returned promise does not (the container exists by then).
   */
  created(stored: StoredConfig): Promise<ContainerRecord>;
}

/** `--volumes-from CTR[:ro|:rw]` → the containers, by name, id or id prefix. */
function volumesFrom(refs: string[], all: StoredConfig[]): StoredConfig[] {
  return refs.map((ref) => {
    const [name = '', mode] = ref.split(':');
    if (mode !== undefined && mode !== 'ro' && mode !== 'rw') throw new TbuildError('TB_INVALID_ARGUMENT', `invalid mode for volumes-from: ${mode}`);
    const c = matchConfig(all, name);
    if (!c) throw new TbuildError('TB_CONTAINER_NOT_FOUND', `No such container: ${name}`);
    return c;
  });
}

/** `--network container:CTR` → that container, by name, id or id prefix. */
function networkContainer(mode: string | undefined, all: StoredConfig[]): StoredConfig | undefined {
  if (!mode?.startsWith('container:')) return undefined;
  const ref = mode.slice('container:'.length);
  const c = ref ? matchConfig(all, ref) : undefined;
  if (!c) throw new TbuildError('TB_CONTAINER_NOT_FOUND', `No such container: ${ref}`);
  return c;
}

/**
 * Write a new container's directory, snapshot, state and config. On any failure the snapshot and
 * the directory are removed, so a failed create leaves nothing behind.
 */
export async function createContainer(ctx: CreateContext, opts: CreateContainerOptions): Promise<ContainerRecord> {
  if (opts.name !== undefined) checkName(opts.name, opts.name, ctx.all);
  const joined = networkContainer(opts.network, ctx.all);
  const img = await ctx.parts.images.resolve(opts.image);
  const platform = platformOfConfig(img.config);
  if (opts.platform !== undefined) {
    const want = parsePlatform(opts.platform);
    if (platform && !samePlatform(platform, want)) {
      throw new TbuildError('TB_IMAGE_NOT_FOUND', `image with reference ${opts.image} was found but does not match the specified platform: wanted ${formatPlatform(want)}, actual: ${formatPlatform(platform)}`, { details: { ref: opts.image } });
    }
  }
  // another CPU's image runs only under an emulator: say so now, not as runc's "exec format error"
  if (platform) await requireEmulation(platform);
  ctx.prewarm();
  const cfg = img.config.config;
  const full = effectiveCommand(opts, img);
  const id = randomBytes(32).toString('hex');
  const name = opts.name ?? randomName(new Set(ctx.all.map((c) => c.name)));
  const dir = containerDir(ctx.root, id);
  await mkdir(dir, { recursive: true, mode: 0o710 });
  const snapshotKey = `ctr-${id}`;
  const top = img.layers.at(-1)?.snapshot;
  try {
    const init = await prepareInitLayer(ctx.parts.snapshots, id, top);
    await ctx.parts.snapshots.prepare(snapshotKey, init, { [KEEP_LABEL]: 'container', 'tbuild.container': id });
    const rt = await runtimeConfig(id, opts, img, ctx.volumes, ctx.parts.network, volumesFrom(opts.volumesFrom ?? [], ctx.all), ctx.parts.dns, joined);
    const stored: StoredConfig = {
      id,
      name,
      image: opts.image,
      imageId: img.id,
      created: new Date().toISOString(),
      options: opts,
      path: full[0]!,
      args: full.slice(1),
      env: mergeEnv(cfg.Env ?? [], opts.env ?? []),
      workingDir: opts.workingDir ?? cfg.WorkingDir ?? '',
      user: opts.user ?? cfg.User ?? '',
      snapshotKey,
      logPath: join(dir, `${id}-json.log`),
      runtime: rt,
    };
    await writeState(ctx.root, id, emptyState());
    await writeConfig(ctx.root, stored);
    return ctx.created(stored);
  } catch (err) {
    await ctx.parts.snapshots.remove(snapshotKey).catch(() => {});
    await ctx.parts.snapshots.remove(initLayerName(id)).catch(() => {});
    await removeDir(ctx.root, id);
    throw err;
  }
}
