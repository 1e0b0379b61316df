import { readFile, readdir, unlink, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContentStore, LayerConverter, Snapshotter } from '../cache/types.js';
import type { ImageConfig, ImageInUseCheck, ImageLayer, ImageRecord, ImageStore, ImageUser, NewImage } from './types.js';
import { canonicalJson, digestHex, shortId, type Digest } from '../util/digest.js';
import { writeJsonAtomic, fsyncDir } from '../util/atomic.js';
import { TbuildError, isTbuildError } from '../errors.js';
import { familiarName, normalizeTagReference, parseReference, repositoryName, formatReference, tryParseReference } from './reference.js';
import { IMPORT_LABEL, isLayerSnapshotName } from './layers.js';
import { buildManifest } from './manifest.js';

/**
 * On disk, under `<root>/images/`:
 *   records/<hex>.json   one per image: layers (diffID, size, snapshot), repo digests, created
 *   repositories.json    every tag → image id, replaced atomically as a whole
 * Config and manifest are blobs in the content store. A create writes blobs, then the record,
 * then the names; a remove drops the names, then the record, then unused blobs and snapshots.
 * A crash in between leaves at worst an untagged image or unreferenced content, never a name
 * that points at nothing.
 */
interface StoredRecord {
  id: Digest;
  manifest: Digest;
  layers: ImageLayer[];
  repoDigests: string[];
  created: string;
}

interface Repositories {
  /** Normalized `domain/path:tag` → image id. */
  tags: Record<string, Digest>;
}

type Resolution = { record: StoredRecord; via: 'id' | 'name'; name?: string };

const SHORT_ID_RE = /^(?:sha256:)?([a-f0-9]{1,64})$/;

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
  readonly #records: string;
  readonly #content: ContentStore;
  readonly #snapshots: Snapshotter;
  readonly #layers: LayerConverter;
  #inUse: ImageInUseCheck = async () => undefined;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #configs = new Map<Digest, ImageConfig>();

  constructor(root: string, content: ContentStore, snapshots: Snapshotter, layers: LayerConverter) {
    this.#dir = join(root, 'images');
    this.#records = join(this.#dir, 'records');
    this.#content = content;
    this.#snapshots = snapshots;
    this.#layers = layers;
  }

  get parts(): { content: ContentStore; snapshots: Snapshotter; layers: LayerConverter } {
    return { content: this.#content, snapshots: this.#snapshots, layers: this.#layers };
  }

  async init(): Promise<void> {
    await mkdir(this.#records, { recursive: true });
    // Archives staged by a load that never finished (the state root lock admits one engine).
    await rm(join(this.#dir, 'tmp'), { recursive: true, force: true });
    // Temporary snapshots of an import that crashed: nothing can refer to them.
    const stale: string[] = [];
    for await (const s of this.#snapshots.walk()) {
      if (s.kind === 'active' && s.labels[IMPORT_LABEL]) stale.push(s.name);
    }
    for (const s of stale) await this.#snapshots.remove(s).catch(() => {});
  }

  setInUseCheck(check: ImageInUseCheck): void {
    this.#inUse = check;
  }

  inUse(imageId: Digest): Promise<ImageUser | undefined> {
    return this.#inUse(imageId);
  }

  /** Serialize mutations: names and records are read-modify-written. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  // ───────────── persistence ─────────────

  #recordPath(id: Digest): string {
    return join(this.#records, `${digestHex(id)}.json`);
  }

  async #readRecord(id: Digest): Promise<StoredRecord | undefined> {
    try {
      return JSON.parse(await readFile(this.#recordPath(id), 'utf8')) as StoredRecord;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async #allRecords(): Promise<StoredRecord[]> {
    const files = (await readdir(this.#records)).filter((f) => /^[a-f0-9]{64}\.json$/.test(f));
    const out: StoredRecord[] = [];
    for (const f of files) {
      const r = await this.#readRecord(`sha256:${f.slice(0, 64)}` as Digest);
      if (r) out.push(r);
    }
    return out;
  }

  async #readRepositories(): Promise<Repositories> {
    try {
      return JSON.parse(await readFile(join(this.#dir, 'repositories.json'), 'utf8')) as Repositories;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { tags: {} };
      throw err;
    }
  }

  #writeRepositories(repos: Repositories): Promise<void> {
    const sorted: Record<string, Digest> = {};
    for (const k of Object.keys(repos.tags).sort()) sorted[k] = repos.tags[k]!;
    return writeJsonAtomic(join(this.#dir, 'repositories.json'), { tags: sorted });
  }

  async #config(id: Digest): Promise<ImageConfig> {
    let c = this.#configs.get(id);
    if (!c) {
      c = JSON.parse((await this.#content.read(id)).toString('utf8')) as ImageConfig;
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
    };
  }

  // ───────────── lookups ─────────────

  async #find(ref: string, repos: Repositories): Promise<Resolution | undefined> {
    const full = /^(?:sha256:)?([a-f0-9]{64})$/.exec(ref);
    if (full) {
      const record = await this.#readRecord(`sha256:${full[1]}` as Digest);
      return record && { record, via: 'id' };
    }
    const parsed = tryParseReference(ref);
    if (parsed) {
      if (parsed.digest !== undefined) {
        const want = `${repositoryName(parsed)}@${parsed.digest}`;
        for (const record of await this.#allRecords()) {
          if (record.repoDigests.includes(want)) return { record, via: 'name', name: want };
        }
      } else {
        const name = formatReference({ ...parsed, tag: parsed.tag ?? 'latest' });
        const id = repos.tags[name];
        const record = id && (await this.#readRecord(id));
        if (record) return { record, via: 'name', name };
      }
    }
    const short = SHORT_ID_RE.exec(ref);
    if (short) {
      const hex = short[1]!;
      const files = (await readdir(this.#records)).filter((f) => f.startsWith(hex) && f.endsWith('.json'));
      if (files.length > 1) {
        throw new TbuildError('TB_IMAGE_AMBIGUOUS', `multiple IDs found with provided prefix: ${hex}`);
      }
      if (files.length === 1) {
        const record = await this.#readRecord(`sha256:${files[0]!.slice(0, 64)}` as Digest);
        if (record) return { record, via: 'id' };
      }
    }
    return undefined;
  }

  async get(ref: string): Promise<ImageRecord | undefined> {
    const repos = await this.#readRepositories();
    const found = await this.#find(ref, repos);
    return found && this.#toImage(found.record, repos);
  }

  async resolve(ref: string): Promise<ImageRecord> {
    const img = await this.get(ref);
    if (!img) throw notFound(ref);
    return img;
  }

  async list(): Promise<ImageRecord[]> {
    const repos = await this.#readRepositories();
    const out: ImageRecord[] = [];
    for (const r of await this.#allRecords()) out.push(await this.#toImage(r, repos));
    return out.sort((a, b) => (b.config.created ?? b.created).localeCompare(a.config.created ?? a.created));
  }

  // ───────────── mutations ─────────────

  async create(image: NewImage): Promise<ImageRecord> {
    const names = (image.names ?? []).map(normalizeTagReference);
    const repoDigests = (image.repoDigests ?? []).map(normalizeRepoDigest);
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
      const manifest = buildManifest({ digest: cfg.digest, size: cfg.size }, image.layers);
      const man = await this.#content.put(manifest);
      const id = cfg.digest;
      const existing = await this.#readRecord(id);
      const record: StoredRecord = {
        id,
        manifest: man.digest,
        layers: image.layers.map((l) => ({ diffId: l.diffId, size: l.size, snapshot: l.snapshot })),
        repoDigests: [...new Set([...(existing?.repoDigests ?? []), ...repoDigests])],
        created: existing?.created ?? new Date().toISOString(),
      };
      // Keep the layers of an existing record: they may be shared with a container or a build already.
      if (existing && existing.layers.length === record.layers.length) record.layers = existing.layers;
      await writeJsonAtomic(this.#recordPath(id), record);
      const repos = await this.#readRepositories();
      if (names.length) {
        for (const n of names) repos.tags[n] = id;
        await this.#writeRepositories(repos);
      }
      return this.#toImage(record, repos);
    });
  }

  async tag(ref: string, name: string): Promise<void> {
    const normalized = normalizeTagReference(name);
    return this.#exclusive(async () => {
      const repos = await this.#readRepositories();
      const found = await this.#find(ref, repos);
      if (!found) throw notFound(ref);
      repos.tags[normalized] = found.record.id;
      await this.#writeRepositories(repos);
    });
  }

  async untag(name: string): Promise<string> {
    return this.#exclusive(async () => {
      const repos = await this.#readRepositories();
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
      for (const r of await this.#allRecords()) {
        if (r.repoDigests.includes(want)) {
          r.repoDigests = r.repoDigests.filter((d) => d !== want);
          await writeJsonAtomic(this.#recordPath(r.id), r);
          return want;
        }
      }
      return undefined;
    }
    const normalized = formatReference({ ...parsed, tag: parsed.tag ?? 'latest' });
    if (!(normalized in repos.tags)) return undefined;
    delete repos.tags[normalized];
    await this.#writeRepositories(repos);
    return normalized;
  }

  async remove(ref: string, opts: { force?: boolean } = {}): Promise<Array<{ Untagged?: string; Deleted?: string }>> {
    const force = opts.force ?? false;
    return this.#exclusive(async () => {
      const repos = await this.#readRepositories();
      const found = await this.#find(ref, repos);
      if (!found) throw notFound(ref);
      const { record } = found;
      const out: Array<{ Untagged?: string; Deleted?: string }> = [];
      const short = shortId(record.id);
      const refsOf = (): string[] => [
        ...Object.keys(repos.tags).filter((n) => repos.tags[n] === record.id),
        ...record.repoDigests,
      ];
      const user = await this.#inUse(record.id);

      if (found.via === 'name') {
        // A name was given: untag it; the image goes only with its last name.
        if (refsOf().length === 1 && !force && user) {
          throw new TbuildError(
            'TB_IMAGE_IN_USE',
            `conflict: unable to remove repository reference "${ref}" (must force) - container ${shortId(user.container)} is using its referenced image ${short}`,
          );
        }
        const name = found.name!;
        await this.#dropRef(name, record, repos);
        out.push({ Untagged: familiarName(name) });
        // Digest references of the same repository go with its last tag, as in Docker.
        const repo = repositoryName(parseReference(name));
        const tagsLeftInRepo = Object.keys(repos.tags).some(
          (n) => repos.tags[n] === record.id && repositoryName(parseReference(n)) === repo,
        );
        if (!tagsLeftInRepo && !name.includes('@')) {
          for (const d of record.repoDigests.filter((d) => repositoryName(parseReference(d)) === repo)) {
            await this.#dropRef(d, record, repos);
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
          throw new TbuildError(
            'TB_IMAGE_IN_USE',
            `conflict: unable to delete ${short} (must be forced) - image is referenced in multiple repositories`,
          );
        }
        for (const r of refs) {
          await this.#dropRef(r, record, repos);
          out.push({ Untagged: familiarName(r) });
        }
      }
      out.push({ Deleted: record.id });
      for (const d of await this.#deleteImage(record)) out.push({ Deleted: d });
      return out;
    });
  }

  async #dropRef(ref: string, record: StoredRecord, repos: Repositories): Promise<void> {
    if (ref.includes('@')) {
      record.repoDigests = record.repoDigests.filter((d) => d !== ref);
      await writeJsonAtomic(this.#recordPath(record.id), record);
    } else {
      delete repos.tags[ref];
      await this.#writeRepositories(repos);
    }
  }

  /** Drop the record, then blobs and layer snapshots no remaining image uses. Returns removed layer chain ids. */
  async #deleteImage(record: StoredRecord): Promise<string[]> {
    await unlink(this.#recordPath(record.id));
    await fsyncDir(this.#records);
    this.#configs.delete(record.id);
    const others = await this.#allRecords();
    const usedBlobs = new Set<string>();
    const usedSnaps = new Set<string>();
    for (const o of others) {
      usedBlobs.add(o.id);
      usedBlobs.add(o.manifest);
      for (const l of o.layers) {
        usedBlobs.add(l.diffId);
        usedSnaps.add(l.snapshot);
      }
    }
    for (const d of [record.id, record.manifest, ...record.layers.map((l) => l.diffId)]) {
      if (!usedBlobs.has(d)) await this.#content.delete(d).catch(ignoreNotFound);
    }
    const deleted: string[] = [];
    // Top-down: a snapshot can go only once nothing stacks on it. One that a container or a
    // build result still stacks on stays (with everything below it); prune collects it later.
    // Snapshots the store did not create (build results) belong to the build cache.
    for (const l of [...record.layers].reverse()) {
      if (usedSnaps.has(l.snapshot) || !isLayerSnapshotName(l.snapshot)) break;
      try {
        await this.#snapshots.remove(l.snapshot);
        deleted.push(l.snapshot);
      } catch (err) {
        if (isTbuildError(err, 'TB_SNAPSHOT_NOT_FOUND')) continue;
        if (isTbuildError(err, 'TB_SNAPSHOT_STATE')) break;
        throw err;
      }
    }
    return deleted;
  }
}

/** `repo@sha256:…`, normalized; a tag in it is dropped (Docker keeps repo digests tagless). */
function normalizeRepoDigest(ref: string): string {
  const r = parseReference(ref);
  if (r.digest === undefined) throw new TbuildError('TB_REFERENCE_INVALID', `not a digest reference: ${ref}`);
  return `${repositoryName(r)}@${r.digest}`;
}

function ignoreNotFound(err: unknown): void {
  if (isTbuildError(err, 'TB_CONTENT_NOT_FOUND') || (err as NodeJS.ErrnoException).code === 'ENOENT') return;
  throw err;
}

function notFound(ref: string): TbuildError {
  return new TbuildError('TB_IMAGE_NOT_FOUND', `No such image: ${ref}`);
}
