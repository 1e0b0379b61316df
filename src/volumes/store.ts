import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { contentBytes } from '../util/content-size.js';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TbuildError } from '../errors.js';
import { writeJsonAtomic } from '../util/atomic.js';
import type { VolumeRecord, Volumes } from '../containers/types.js';

export type Volume = VolumeRecord;

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** `KEY`, `KEY=VALUE`, and their negations `!KEY`… (how the daemon hands on `label!=` filters). */
function labelMatches(labels: Record<string, string>, spec: string): boolean {
  const negate = spec.startsWith('!');
  const s = negate ? spec.slice(1) : spec;
  const eq = s.indexOf('=');
  const hit = eq < 0 ? s in labels : labels[s.slice(0, eq)] === s.slice(eq + 1);
  return negate ? !hit : hit;
}

/** The volume store of a state root (the Engine opens one and hands it to the container manager). */
export function openVolumeStore(root: string): VolumeStore {
  return new VolumeStore(root);
}

/**
 * Named volumes under `<root>/volumes/<name>/`: `_data` is the content, `meta.json` the record.
 * A volume outlives the containers that use it; `inUse` (installed by the container manager)
 * answers which containers still mount it.
 */
export class VolumeStore implements Volumes {
  readonly #dir: string;
  #inUse: (name: string) => Promise<string[]> = async () => [];

  constructor(root: string) {
    this.#dir = join(root, 'volumes');
  }

  setInUseCheck(check: (name: string) => Promise<string[]>): void {
    this.#inUse = check;
  }

  /** Create `name` (generated when omitted); an existing volume is returned as is. */
  async create(name?: string, labels: Record<string, string> = {}, anonymous = false): Promise<{ volume: Volume; created: boolean }> {
    const n = name || randomBytes(32).toString('hex');
    if (!NAME_RE.test(n)) {
      throw new TbuildError('TB_INVALID_ARGUMENT', `create ${n}: "${n}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed`);
    }
    const existing = await this.get(n);
    if (existing) return { volume: existing, created: false };
    const dir = join(this.#dir, n);
    // Build it beside, then rename: a crash never leaves a volume without its record.
    const tmp = join(this.#dir, `.tmp-${n}-${randomBytes(4).toString('hex')}`);
    await mkdir(join(tmp, '_data'), { recursive: true, mode: 0o755 });
    const volume: Volume = { name: n, mountpoint: join(dir, '_data'), createdAt: new Date().toISOString(), labels, anonymous };
    await writeJsonAtomic(join(tmp, 'meta.json'), { name: n, createdAt: volume.createdAt, labels, anonymous });
    try {
      await rename(tmp, dir);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      const again = await this.get(n);
      if (again) return { volume: again, created: false };
      throw err;
    }
    return { volume, created: true };
  }

  async get(name: string): Promise<Volume | undefined> {
    if (!NAME_RE.test(name)) return undefined;
    try {
      const meta = JSON.parse(await readFile(join(this.#dir, name, 'meta.json'), 'utf8')) as Omit<Volume, 'mountpoint'>;
      return { ...meta, name, mountpoint: join(this.#dir, name, '_data'), labels: meta.labels ?? {}, anonymous: Boolean(meta.anonymous) };
    } catch {
      return undefined;
    }
  }

  /** Throws TB_VOLUME_NOT_FOUND (`get <name>: no such volume`). */
  async inspect(name: string): Promise<Volume> {
    const v = await this.get(name);
    if (!v) throw new TbuildError('TB_VOLUME_NOT_FOUND', `get ${name}: no such volume`);
    return v;
  }

  async list(): Promise<Volume[]> {
    const names = await readdir(this.#dir).catch(() => [] as string[]);
    const out: Volume[] = [];
    for (const n of names) {
      if (n.startsWith('.')) continue;
      const v = await this.get(n);
      if (v) out.push(v);
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** TB_VOLUME_IN_USE while a container mounts it, unless `force`. */
  async remove(name: string, force = false): Promise<void> {
    await this.inspect(name);
    const users = await this.#inUse(name);
    if (users.length && !force) {
      throw new TbuildError('TB_VOLUME_IN_USE', `remove ${name}: volume is in use - [${users.join(', ')}]`);
    }
    const tmp = join(this.#dir, `.rm-${name}-${randomBytes(4).toString('hex')}`);
    await rename(join(this.#dir, name), tmp);
    await rm(tmp, { recursive: true, force: true });
  }

  /** Remove volumes no container uses (Docker ≥ 23 prunes only anonymous ones unless `all`). */
  async inUse(name: string): Promise<boolean> {
    return (await this.#inUse(name)).length > 0;
  }

  async prune(opts: { all?: boolean; labels?: string[] } = {}): Promise<{ deleted: string[]; spaceReclaimed: number }> {
    const deleted: string[] = [];
    let spaceReclaimed = 0;
    for (const v of await this.list()) {
      if (!opts.all && !v.anonymous) continue;
      if (!(opts.labels ?? []).every((spec) => labelMatches(v.labels, spec))) continue;
      if ((await this.#inUse(v.name)).length) continue;
      spaceReclaimed += await contentBytes(v.mountpoint);
      await this.remove(v.name, true);
      deleted.push(v.name);
    }
    return { deleted, spaceReclaimed };
  }
}
