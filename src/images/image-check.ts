import type { ContentStore, Snapshotter, StoreProblem } from '../cache/types.js';
import type { Digest } from '../util/digest.js';
import type { ImageConfig } from './types.js';
import type { ImageFiles, StoredRecord } from './image-records.js';

/**
 * The image store's side of `system verify`: every name's target, every image's config and
 * manifest blobs, its layers against the config's diff_ids, and its layer snapshots (present, and
 * each one in the parent chain of the top one). A name whose image is gone is the only orphan
 * here; a broken image is reported, never removed (its layers may still be rebuilt or pulled).
 */
export async function checkImages(
  t: {
    files: ImageFiles;
    content: ContentStore;
    snapshots: Snapshotter;
    /** Runs a change under the store's lock (other processes change names too). */
    exclusive: <T>(fn: () => Promise<T>) => Promise<T>;
  },
  repair: boolean,
): Promise<StoreProblem[]> {
  const problems: StoreProblem[] = [];
  const records = new Map((await t.files.allRecords()).map((r) => [r.id, r]));
  const repos = await t.files.readRepositories();
  for (const [name, id] of Object.entries(repos.tags)) {
    if (records.has(id)) continue;
    const p: StoreProblem = { kind: 'name-dangling', subject: name, detail: `names image ${id}, which is not in the store`, repairable: true };
    if (repair) {
      await t.exclusive(async () => {
        // Looked at again under the lock: the image may have arrived since.
        const now = await t.files.readRepositories();
        if (now.tags[name] === id && !(await t.files.readRecord(id))) {
          delete now.tags[name];
          await t.files.writeRepositories(now);
        }
      });
      p.repaired = true;
    }
    problems.push(p);
  }
  for (const r of records.values()) problems.push(...(await checkImage(t, r)));
  return problems;
}

async function checkImage(t: { content: ContentStore; snapshots: Snapshotter }, r: StoredRecord): Promise<StoreProblem[]> {
  const out: StoreProblem[] = [];
  const broken = (kind: string, detail: string) => out.push({ kind, subject: r.id, detail, repairable: false });
  if (!(await t.content.info(r.manifest))) broken('image-manifest-missing', `manifest blob ${r.manifest} is missing`);
  let config: ImageConfig | undefined;
  try {
    config = JSON.parse((await t.content.read(r.id)).toString('utf8')) as ImageConfig;
  } catch (err) {
    broken('image-config-missing', `config blob ${r.id} cannot be read: ${(err as Error).message}`);
  }
  const diffIds: Digest[] = config?.rootfs?.diff_ids ?? [];
  if (config && (diffIds.length !== r.layers.length || diffIds.some((d, i) => d !== r.layers[i]!.diffId))) {
    broken('image-layers-mismatch', `its layers (${r.layers.length}) do not match the config's rootfs.diff_ids (${diffIds.length})`);
  }
  const missing = [];
  for (const l of r.layers) if (!(await t.snapshots.exists(l.snapshot))) missing.push(l.snapshot);
  if (missing.length) {
    broken('image-layer-missing', `layer snapshot${missing.length > 1 ? 's' : ''} ${missing.join(', ')} missing`);
  } else if (r.layers.length) {
    const chain = new Set(await t.snapshots.chain(r.layers[r.layers.length - 1]!.snapshot).catch(() => [] as string[]));
    const off = r.layers.filter((l) => !chain.has(l.snapshot));
    if (off.length) broken('image-chain-broken', `layer snapshot ${off[0]!.snapshot} is not below the top layer's`);
  }
  return out;
}
