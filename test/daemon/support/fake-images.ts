import { createHash } from 'node:crypto';
import { TbuildError } from '../../../src/errors.js';
import type { ImageInUseCheck, ImageRecord, ImageStore, NewImage } from '../../../src/images/types.js';
import type { Digest } from '../../../src/util/digest.js';

/** Normalize like the real store: `busybox` → `docker.io/library/busybox:latest`. */
export function normalize(ref: string): string {
  let name = ref;
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  if (slash < 0) name = `docker.io/library/${name}`;
  else if (!first.includes('.') && !first.includes(':') && first !== 'localhost') name = `docker.io/${name}`;
  if (!name.includes('@') && !name.slice(name.lastIndexOf('/') + 1).includes(':')) name += ':latest';
  return name;
}

/** In-memory ImageStore double with the real store's lookup rules (name, full id, id prefix). */
export class FakeImageStore implements ImageStore {
  images = new Map<string, ImageRecord>();
  inUse: ImageInUseCheck = async () => undefined;

  setInUseCheck(check: ImageInUseCheck): void {
    this.inUse = check;
  }

  async get(ref: string): Promise<ImageRecord | undefined> {
    const hex = ref.replace(/^sha256:/, '');
    if (/^[0-9a-f]{4,64}$/.test(hex)) {
      const hits = [...this.images.values()].filter((i) => i.id.slice(7).startsWith(hex));
      if (hits.length === 1) return hits[0];
    }
    const n = normalize(ref);
    return [...this.images.values()].find((i) => i.names.includes(n));
  }

  async resolve(ref: string): Promise<ImageRecord> {
    const img = await this.get(ref);
    if (!img) throw new TbuildError('TB_IMAGE_NOT_FOUND', `No such image: ${ref}`);
    return img;
  }

  async list(): Promise<ImageRecord[]> {
    return [...this.images.values()];
  }

  async create(image: NewImage): Promise<ImageRecord> {
    const id = `sha256:${createHash('sha256').update(JSON.stringify(image.config)).digest('hex')}` as Digest;
    const names = (image.names ?? []).map(normalize);
    for (const other of this.images.values()) other.names = other.names.filter((n) => !names.includes(n));
    const existing = this.images.get(id);
    const rec: ImageRecord = existing
      ? { ...existing, names: [...new Set([...existing.names, ...names])] }
      : { id, config: image.config, layers: image.layers, names, repoDigests: [], created: new Date().toISOString() };
    this.images.set(id, rec);
    return rec;
  }

  async tag(ref: string, name: string): Promise<void> {
    const img = await this.resolve(ref);
    const n = normalize(name);
    for (const other of this.images.values()) other.names = other.names.filter((x) => x !== n);
    img.names.push(n);
  }

  async untag(name: string): Promise<string> {
    const n = normalize(name);
    const img = [...this.images.values()].find((i) => i.names.includes(n));
    if (!img) throw new TbuildError('TB_IMAGE_NOT_FOUND', `No such image: ${name}`);
    img.names = img.names.filter((x) => x !== n);
    return n;
  }

  async remove(ref: string, opts: { force?: boolean } = {}): Promise<Array<{ Untagged?: string; Deleted?: string }>> {
    const img = await this.resolve(ref);
    const out: Array<{ Untagged?: string; Deleted?: string }> = [];
    const n = normalize(ref);
    if (img.names.includes(n)) {
      img.names = img.names.filter((x) => x !== n);
      out.push({ Untagged: n });
    } else if (opts.force || img.names.length <= 1) {
      for (const x of img.names) out.push({ Untagged: x });
      img.names = [];
    } else {
      throw new TbuildError('TB_IMAGE_IN_USE', `conflict: unable to delete ${img.id.slice(7, 19)} (must be forced) - image is referenced in multiple repositories`);
    }
    if (img.names.length === 0) {
      this.images.delete(img.id);
      out.push({ Deleted: img.id });
    }
    return out;
  }
}

/** A minimal image config for doubles. */
export function testImageConfig(extra: { cmd?: string[]; labels?: Record<string, string>; salt?: string } = {}): NewImage {
  return {
    config: {
      architecture: 'amd64',
      os: 'linux',
      created: new Date().toISOString(),
      config: { Cmd: extra.cmd ?? ['sh'], Env: ['PATH=/usr/bin:/bin'], Labels: extra.labels },
      rootfs: { type: 'layers', diff_ids: [`sha256:${'a'.repeat(64)}` as Digest] },
      history: [
        { created: new Date().toISOString(), created_by: `/bin/sh -c #(nop) ADD file ${extra.salt ?? ''}` },
        { created: new Date().toISOString(), created_by: '/bin/sh -c #(nop)  CMD ["sh"]', empty_layer: true },
      ],
    },
    layers: [{ diffId: `sha256:${'a'.repeat(64)}` as Digest, size: 4_000_000, snapshot: 'snap1' }],
  };
}
