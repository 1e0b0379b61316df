import type { ContentStore, Snapshotter } from '../cache/types.js';
import type { ImageUser } from './types.js';
import { shortId, type Digest } from '../util/digest.js';
import { TbuildError, isTbuildError } from '../errors.js';
import { familiarName, parseReference, repositoryName } from './reference.js';
import { isLayerSnapshotName } from './layers.js';
import { findImage } from './image-lookup.js';
import type { ImageFiles, Repositories, StoredRecord } from './image-records.js';

/**
 * `docker rmi` semantics: which names go, whether the image goes with them, and the collection
 * of blobs and layer snapshots nothing else uses. Runs inside the store's exclusive section.
 */
export interface RemoveContext {
  files: ImageFiles;
  content: ContentStore;
  snapshots: Snapshotter;
  inUse(id: Digest): Promise<ImageUser | undefined>;
  /** The store caches configs by id: drop the deleted image's. */
  forget(id: Digest): void;
}

export type RemoveReport = Array<{ Untagged?: string; Deleted?: string }>;

export async function removeImage(ctx: RemoveContext, ref: string, force: boolean): Promise<RemoveReport> {
  const repos = await ctx.files.readRepositories();
  const found = await findImage(ctx.files, ref, repos);
  if (!found) throw imageNotFound(ref);
  const { record } = found;
  const out: RemoveReport = [];
  const short = shortId(record.id);
  const refsOf = (): string[] => [...Object.keys(repos.tags).filter((n) => repos.tags[n] === record.id), ...record.repoDigests];
  const user = await ctx.inUse(record.id);

  if (found.via === 'name') {
    // A name was given: untag it; the image goes only with its last name.
    if (refsOf().length === 1 && !force && user) {
      throw new TbuildError(
        'TB_IMAGE_IN_USE',
        `conflict: unable to remove repository reference "${ref}" (must force) - container ${shortId(user.container)} is using its referenced image ${short}`,
      );
    }
    const name = found.name!;
    await dropRef(ctx.files, name, record, repos);
    out.push({ Untagged: familiarName(name) });
    // Digest references of the same repository go with its last tag, as in Docker.
    const repo = repositoryName(parseReference(name));
    const tagsLeftInRepo = Object.keys(repos.tags).some((n) => repos.tags[n] === record.id && repositoryName(parseReference(n)) === repo);
    if (!tagsLeftInRepo && !name.includes('@')) {
      for (const d of record.repoDigests.filter((d) => repositoryName(parseReference(d)) === repo)) {
        await dropRef(ctx.files, d, record, repos);
        out.push({ Untagged: familiarName(d) });
      }
    }
    // An image a container still uses outlives its last name (dangling), as in Docker.
    if (refsOf().length > 0 || user) return out;
  } else {
    const refs = refsOf();
    const tags = refs.filter((r) => !r.includes('@'));
    const singleRepo = new Set(refs.map((r) => repositoryName(parseReference(r)))).size <= 1;
    if (user?.running) {
      throw new TbuildError(
        'TB_IMAGE_IN_USE',
        `conflict: unable to delete ${short} (cannot be forced) - image is being used by running container ${shortId(user.container)}`,
      );
    }
    if (user && !force) {
      throw new TbuildError(
        'TB_IMAGE_IN_USE',
        `conflict: unable to delete ${short} (must be forced) - image is being used by stopped container ${shortId(user.container)}`,
      );
    }
    if (!force && refs.length > 0 && !(tags.length <= 1 && singleRepo)) {
      throw new TbuildError('TB_IMAGE_IN_USE', `conflict: unable to delete ${short} (must be forced) - image is referenced in multiple repositories`);
    }
    for (const r of refs) {
      await dropRef(ctx.files, r, record, repos);
      out.push({ Untagged: familiarName(r) });
    }
  }
  out.push({ Deleted: record.id });
  for (const d of await deleteImage(ctx, record)) out.push({ Deleted: d });
  return out;
}

async function dropRef(files: ImageFiles, ref: string, record: StoredRecord, repos: Repositories): Promise<void> {
  if (ref.includes('@')) {
    record.repoDigests = record.repoDigests.filter((d) => d !== ref);
    await files.writeRecord(record);
  } else {
    delete repos.tags[ref];
    await files.writeRepositories(repos);
  }
}

/** Drop the record, then blobs and layer snapshots no remaining image uses. Returns removed layer chain ids. */
async function deleteImage(ctx: RemoveContext, record: StoredRecord): Promise<string[]> {
  await ctx.files.deleteRecord(record.id);
  ctx.forget(record.id);
  const others = await ctx.files.allRecords();
  const usedBlobs = new Set<string>();
  const usedSnaps = new Set<string>();
  for (const o of others) {
    usedBlobs.add(o.id);
    usedBlobs.add(o.manifest);
    for (const l of o.layers) {
      usedBlobs.add(l.diffId);
      if (l.compressed) usedBlobs.add(l.compressed.digest);
      usedSnaps.add(l.snapshot);
    }
  }
  const layerBlobs = record.layers.flatMap((l) => (l.compressed ? [l.diffId, l.compressed.digest] : [l.diffId]));
  for (const d of [record.id, record.manifest, ...layerBlobs]) {
    if (!usedBlobs.has(d)) await ctx.content.delete(d).catch(ignoreNotFound);
  }
  const deleted: string[] = [];
  // Top-down: a snapshot can go only once nothing stacks on it. One that a container or a
  // build result still stacks on stays (with everything below it); prune collects it later.
  // Snapshots the store did not create (build results) belong to the build cache.
  for (const l of [...record.layers].reverse()) {
    if (usedSnaps.has(l.snapshot) || !isLayerSnapshotName(l.snapshot)) break;
    try {
      await ctx.snapshots.remove(l.snapshot);
      deleted.push(l.snapshot);
    } catch (err) {
      if (isTbuildError(err, 'TB_SNAPSHOT_NOT_FOUND')) continue;
      if (isTbuildError(err, 'TB_SNAPSHOT_STATE')) break;
      throw err;
    }
  }
  return deleted;
}

function ignoreNotFound(err: unknown): void {
  if (isTbuildError(err, 'TB_CONTENT_NOT_FOUND') || (err as NodeJS.ErrnoException).code === 'ENOENT') return;
  throw err;
}

export function imageNotFound(ref: string): TbuildError {
  return new TbuildError('TB_IMAGE_NOT_FOUND', `No such image: ${ref}`);
}
