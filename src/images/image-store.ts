import { contentBytes } from '../util/content-size.js';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContentStore, LayerConverter, Snapshotter, StoreProblem } from '../cache/types.js';
import { checkImages } from './image-check.js';
import type { ImageConfig, ImageInUseCheck, ImageRecord, ImageStore, ImageUser, NewImage } from './types.js';
import { canonicalJson, sha256, type Digest } from '../util/digest.js';
import { TbuildError } from '../errors.js';
import { normalizeTagReference, parseReference, repositoryName, formatReference } from './reference.js';
import { stagingRoot } from './load-plan.js';
import { LOAD_STAGING } from './archive-reader.js';
import { sweepDeadOwners } from '../util/owned-temp.js';
import { withFileLock } from '../util/file-lock.js';
import { buildManifest } from './manifest.js';
import { ImageFiles, type Repositories, type StoredRecord } from './image-records.js';
import { findImage, type Resolution } from './image-lookup.js';
import { imageNotFound as notFound, removeImage } from './image-remove.js';

/**
 * On disk (see image-records.ts): one record per image and one tag index.
 * Config and manifest are blobs in the content store. A create writes blobs, then the record,
 * then the names; a remove drops the names, then the record, then unused blobs and snapshots.
 * A crash in between leaves at worst an untagged image or unreferenced content, never a name
 * that points at nothing.
 */
export async function openImageStore(opts: {
  root: string;
  content: ContentStore;
  snapshots: Snapshotter;
  layers: LayerConverter;
}): Promise<ImageStore & LocalImageStore> {
  const store = new LocalImageStore(opts.root, opts.content, opts.snapshots, opts.layers);
  await store.init();
  return store;
}

export class LocalImageStore implements ImageStore {
  readonly #dir: string;
  readonly #files: ImageFiles;
  readonly #content: ContentStore;
  readonly #snapshots: Snapshotter;
  readonly #layers: LayerConverter;
  #inUse: ImageInUseCheck = async () => undefined;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #configs = new Map<Digest, ImageConfig>();

  constructor(root: string, content: ContentStore, snapshots: Snapshotter, layers: LayerConverter) {
    this.#dir = join(root, 'images');
    this.#files = new ImageFiles(this.#dir);
    this.#content = content;
    this.#snapshots = snapshots;
    this.#layers = layers;
  }

  get parts(): { content: ContentStore; snapshots: Snapshotter; layers: LayerConverter } {
    return { content: this.#content, snapshots: this.#snapshots, layers: this.#layers };
  }

  async init(): Promise<void> {
    await mkdir(this.#files.records, { recursive: true });
    // Archives staged by loads whose process died. Other live processes may be loading into this
    // root right now; their staging is theirs. (The snapshotter's own sweep takes the active
    // snapshots a crashed import left.)
    await sweepDeadOwners(stagingRoot(join(this.#dir, '..')), LOAD_STAGING);
  }

  setInUseCheck(check: ImageInUseCheck): void {
    this.#inUse = check;
  }

  inUse(imageId: Digest): Promise<ImageUser | undefined> {
    return this.#inUse(imageId);
  }

  /**
   * Serialize mutations: names and records are read-modify-written. In this process through a
   * queue (one lock helper at a time), across processes sharing the root through `images/lock`.
   */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const locked = () => withFileLock(join(this.#dir, 'lock'), fn);
    const run = this.#queue.then(locked, locked);
    this.#queue = run.catch(() => {});
    return run;
  }

  async #config(id: Digest): Promise<ImageConfig> {
    let c = this.#configs.get(id);
    if (!c) {
      const bytes = await this.#content.read(id);
      try {
        c = JSON.parse(bytes.toString('utf8')) as ImageConfig;
      } catch (err) {
        // a damaged store: say which image and where to look, not a bare JSON error
        throw new TbuildError('TB_CONTENT_DIGEST_MISMATCH', `image ${id}: its config blob is damaged (${(err as Error).message}); \`tbuild system verify\` lists what is wrong`, { cause: err });
      }
      this.#configs.set(id, c);
    }
    return c;
  }

  async #toImage(r: StoredRecord, repos: Repositories): Promise<ImageRecord> {
    const names = Object.keys(repos.tags)
      .filter((n) => repos.tags[n] === r.id)
      .sort();
    return {
      id: r.id,
      config: await this.#config(r.id),
      layers: r.layers,
      names,
      repoDigests: [...r.repoDigests],
      created: r.created,
      ...(r.annotations && Object.keys(r.annotations).length ? { annotations: { ...r.annotations } } : {}),
    };
  }

  // ───────────── lookups ─────────────

  #find(ref: string, repos: Repositories): Promise<Resolution | undefined> {
    return findImage(this.#files, ref, repos);
  }

  async get(ref: string): Promise<ImageRecord | undefined> {
    const repos = await this.#files.readRepositories();
    const found = await this.#find(ref, repos);
    return found && this.#toImage(found.record, repos);
  }

  async resolve(ref: string): Promise<ImageRecord> {
    const img = await this.get(ref);
    if (!img) throw notFound(ref);
    return img;
  }

  /** How many images the store holds, without reading their configs (`system verify` on a damaged store). */
  async count(): Promise<number> {
    return (await this.#files.allRecords()).length;
  }

  async list(): Promise<ImageRecord[]> {
    const repos = await this.#files.readRepositories();
    const out: ImageRecord[] = [];
    for (const r of await this.#files.allRecords()) out.push(await this.#toImage(r, repos));
    return out.sort((a, b) => (b.config.created ?? b.created).localeCompare(a.config.created ?? a.created));
  }

  // ───────────── mutations ─────────────

  /** A layer's own files (its snapshot's upper directory), Docker's size for it. */
  async #contentSize(snapshot: string): Promise<number | undefined> {
    const dir = await this.#snapshots.layerDir(snapshot).catch(() => undefined);
    return dir === undefined ? undefined : contentBytes(dir);
  }

  async create(image: NewImage): Promise<ImageRecord> {
    const names = (image.names ?? []).map(normalizeTagReference);
    const repoDigests = (image.repoDigests ?? []).map(normalizeRepoDigest);
    // A build that hit the cache makes the image it made last time, under the names it has: then
    // there is nothing to write and no lock to take (the cross-process lock costs a helper process).
    const same = await this.#alreadyThere(image.configJson ?? canonicalJson(image.config), image.layers, names, repoDigests, image.annotations);
    if (same) return same;
    return this.#exclusive(async () => {
      // With exact bytes given, they are the truth (they become the id); check the layers against them.
      const truth = image.configJson ? (JSON.parse(image.configJson) as ImageConfig) : image.config;
      const diffIds = truth.rootfs?.diff_ids ?? [];
      if (diffIds.length !== image.layers.length || diffIds.some((d, i) => d !== image.layers[i]!.diffId)) {
        throw new TbuildError('TB_INVALID_ARGUMENT', 'image layers do not match the config rootfs.diff_ids');
      }
      for (const l of image.layers) {
        if (!(await this.#snapshots.exists(l.snapshot))) {
          throw new TbuildError('TB_SNAPSHOT_NOT_FOUND', `layer snapshot ${l.snapshot} does not exist`);
        }
      }
      const configJson = image.configJson ?? canonicalJson(image.config);
      const cfg = await this.#content.put(configJson);
      const id = cfg.digest;
      const existing = await this.#files.readRecord(id);
      const annotations = image.annotations ?? existing?.annotations ?? {};
      const manifest = buildManifest({ digest: cfg.digest, size: cfg.size }, image.layers, annotations);
      const man = await this.#content.put(manifest);
      const record: StoredRecord = {
        id,
        manifest: man.digest,
        layers: await Promise.all(
          image.layers.map(async (l) => ({
            diffId: l.diffId,
            size: l.size,
            snapshot: l.snapshot,
            contentSize: l.contentSize ?? (await this.#contentSize(l.snapshot)),
            ...(l.compressed ? { compressed: l.compressed } : {}),
          })),
        ),
        repoDigests: [...new Set([...(existing?.repoDigests ?? []), ...repoDigests])],
        created: existing?.created ?? new Date().toISOString(),
        ...(Object.keys(annotations).length ? { annotations } : {}),
      };
      // Keep the layers of an existing record: they may be shared with a container or a build already.
      if (existing && existing.layers.length === record.layers.length) {
        record.layers = existing.layers.map((l, i) => {
          const now = record.layers[i]!;
          return { ...l, contentSize: l.contentSize ?? now.contentSize, ...(l.compressed ?? now.compressed ? { compressed: l.compressed ?? now.compressed } : {}) };
        });
      }
      await this.#files.writeRecord(record);
      const repos = await this.#files.readRepositories();
      if (names.length) {
        for (const n of names) repos.tags[n] = id;
        await this.#files.writeRepositories(repos);
      }
      return this.#toImage(record, repos);
    });
  }

  async #alreadyThere(configJson: string, layers: NewImage['layers'], names: string[], repoDigests: string[], annotations: Record<string, string> | undefined): Promise<ImageRecord | undefined> {
    const existing = await this.#files.readRecord(sha256(configJson));
    if (!existing || existing.layers.length !== layers.length || layers.some((l, i) => existing.layers[i]!.snapshot !== l.snapshot)) return undefined;
    if (annotations && canonicalJson(annotations) !== canonicalJson(existing.annotations ?? {})) return undefined;
    if (repoDigests.some((d) => !existing.repoDigests.includes(d))) return undefined;
    if (!(await this.#content.info(existing.id)) || !(await this.#content.info(existing.manifest))) return undefined;
    const repos = await this.#files.readRepositories();
    if (names.some((n) => repos.tags[n] !== existing.id)) return undefined;
    return this.#toImage(existing, repos);
  }

  async tag(ref: string, name: string): Promise<void> {
    const normalized = normalizeTagReference(name);
    // already so: nothing to change, no lock to take
    const now = await this.#files.readRepositories();
    const target = await this.#find(ref, now);
    if (target && now.tags[normalized] === target.record.id) return;
    return this.#exclusive(async () => {
      const repos = await this.#files.readRepositories();
      const found = await this.#find(ref, repos);
      if (!found) throw notFound(ref);
      repos.tags[normalized] = found.record.id;
      await this.#files.writeRepositories(repos);
    });
  }

  async untag(name: string): Promise<string> {
    return this.#exclusive(async () => {
      const repos = await this.#files.readRepositories();
      const removed = await this.#untagLocked(name, repos);
      if (!removed) throw notFound(name);
      return removed;
    });
  }

  /** Remove one name (tag or repo digest); undefined when it was not there. */
  async #untagLocked(name: string, repos: Repositories): Promise<string | undefined> {
    const parsed = parseReference(name);
    if (parsed.digest !== undefined) {
      const want = `${repositoryName(parsed)}@${parsed.digest}`;
      for (const r of await this.#files.allRecords()) {
        if (r.repoDigests.includes(want)) {
          r.repoDigests = r.repoDigests.filter((d) => d !== want);
          await this.#files.writeRecord(r);
          return want;
        }
      }
      return undefined;
    }
    const normalized = formatReference({ ...parsed, tag: parsed.tag ?? 'latest' });
    if (!(normalized in repos.tags)) return undefined;
    delete repos.tags[normalized];
    await this.#files.writeRepositories(repos);
    return normalized;
  }

  /** `system verify`'s look at names, records, their blobs and snapshots (see image-check.ts). */
  check(opts: { repair: boolean }): Promise<StoreProblem[]> {
    return checkImages(
      { files: this.#files, content: this.#content, snapshots: this.#snapshots, exclusive: (fn) => this.#exclusive(fn) },
      opts.repair,
    );
  }

  async remove(ref: string, opts: { force?: boolean } = {}): Promise<Array<{ Untagged?: string; Deleted?: string }>> {
    const force = opts.force ?? false;
    return this.#exclusive(() =>
      removeImage(
        {
          files: this.#files,
          content: this.#content,
          snapshots: this.#snapshots,
          inUse: (id) => this.#inUse(id),
          forget: (id) => this.#configs.delete(id),
        },
        ref,
        force,
      ),
    );
  }
}

/** `repo@sha256:…`, normalized; a tag in it is dropped (Docker keeps repo digests tagless). */
function normalizeRepoDigest(ref: string): string {
  const r = parseReference(ref);
  if (r.digest === undefined) throw new TbuildError('TB_REFERENCE_INVALID', `not a digest reference: ${ref}`);
  return `${repositoryName(r)}@${r.digest}`;
}
