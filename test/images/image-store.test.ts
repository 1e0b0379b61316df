import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { join } from 'node:path';
import { tempDir, mountsUnder } from '../support/tmp.js';
import { inventory, makeTar, openStore, streamOf } from './helpers.js';
import { importLayers, chainIds, unpackLayers } from '../../src/images/layers.js';
import type { ImageConfig, ImageLayer } from '../../src/images/types.js';
import { isTbuildError } from '../../src/errors.js';
import { sha256, type Digest } from '../../src/util/digest.js';

let dir: { path: string; cleanup: () => Promise<void> };
let ctx: Awaited<ReturnType<typeof openStore>>;

beforeEach(async () => {
  dir = await tempDir('tb-img-');
  ctx = await openStore(dir.path);
});
afterEach(async () => {
  expect(await mountsUnder(dir.path)).toEqual([]);
  await dir.cleanup();
});

function configFor(layers: ImageLayer[], extra: Partial<ImageConfig['config']> = {}): ImageConfig {
  return {
    architecture: 'amd64',
    os: 'linux',
    created: '2024-01-02T03:04:05Z',
    config: { Cmd: ['sh'], ...extra },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map(() => ({ created: '2024-01-02T03:04:05Z', created_by: 'test' })),
  };
}

async function twoLayerImages(): Promise<{ a: ImageLayer[]; b: ImageLayer[] }> {
  const base = await makeTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/base', content: 'base\n' }]);
  const topA = await makeTar([{ name: 'a.txt', content: 'A' }]);
  const topB = await makeTar([{ name: 'b.txt', content: 'B' }]);
  const a = await importLayers(ctx, [{ diffId: sha256(base), open: () => streamOf(base) }, { diffId: sha256(topA), open: () => streamOf(topA) }]);
  const b = await importLayers(ctx, [{ diffId: sha256(base), open: () => streamOf(base) }, { diffId: sha256(topB), open: () => streamOf(topB) }]);
  return { a, b };
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    if (isTbuildError(err)) return err.code;
    throw err;
  }
}

describe('layers', () => {
  test('import applies layers onto chain-id snapshots, shared between stacks', async () => {
    const { a, b } = await twoLayerImages();
    const [c0, c1] = chainIds(a.map((l) => l.diffId));
    expect(a[0]!.snapshot).toBe(c0);
    expect(a[1]!.snapshot).toBe(c1);
    expect(b[0]!.snapshot).toBe(a[0]!.snapshot);
    expect(await ctx.snapshots.chain(a[1]!.snapshot)).toEqual([c1, c0]);
    // the diffID blob is kept byte-exact
    expect(await ctx.content.info(a[0]!.diffId)).toMatchObject({ size: a[0]!.size });
  });

  test('every layer a stack names is made durable before it is returned, those found already made too', async () => {
    const base = await makeTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/base', content: 'base\n' }]);
    const top = await makeTar([{ name: 'top.txt', content: 'T' }]);
    const synced: string[][] = [];
    const sync = vi.spyOn(ctx.snapshots, 'sync').mockImplementation(async (names) => void synced.push([...names]));
    try {
      const loaded = await importLayers(ctx, [{ diffId: sha256(base), open: () => streamOf(base) }]);
      expect(synced).toEqual([[loaded[0]!.snapshot]]);
      // a pull's way: extracted apart, stacked with deferred flushes; the base is here already
      const pulled = await unpackLayers(ctx, join(dir.path, 'scratch'), [base, top].map((t) => ({ diffId: sha256(t), extract: (d: string) => ctx.layers.applyTar(streamOf(t), d) })));
      expect(pulled[0]!.snapshot).toBe(loaded[0]!.snapshot);
      expect(synced[1]).toEqual(pulled.map((l) => l.snapshot));
    } finally {
      sync.mockRestore();
    }
  });

  test('a layer whose bytes do not match its diffID is refused and leaves nothing', async () => {
    const before = await inventory(ctx);
    const t = await makeTar([{ name: 'x', content: 'x' }]);
    const code = await codeOf(importLayers(ctx, [{ diffId: sha256('other') as Digest, open: () => streamOf(t) }]));
    expect(code).toMatch(/TB_ARCHIVE_INVALID|TB_CONTENT_DIGEST_MISMATCH/);
    expect(await inventory(ctx)).toEqual(before);
  });
});

describe('image store', () => {
  test('create, get by name / id / prefix, list', async () => {
    const { a } = await twoLayerImages();
    const img = await ctx.images.create({ config: configFor(a), layers: a, names: ['app:1', 'localhost:5000/app'] });
    expect(img.names).toEqual(['docker.io/library/app:1', 'localhost:5000/app:latest']);
    const hex = img.id.slice(7);
    for (const ref of ['app:1', 'docker.io/library/app:1', 'localhost:5000/app', img.id, hex, hex.slice(0, 12), `sha256:${hex.slice(0, 8)}`]) {
      expect((await ctx.images.get(ref))?.id, ref).toBe(img.id);
    }
    expect(await ctx.images.get('app')).toBeUndefined();
    expect(await codeOf(ctx.images.resolve('nope'))).toBe('TB_IMAGE_NOT_FOUND');
    await expect(ctx.images.resolve('nope')).rejects.toThrow('No such image: nope');
    expect((await ctx.images.list()).map((i) => i.id)).toEqual([img.id]);
    // the config blob is the id; the manifest lists uncompressed layers by diffID
    expect(sha256(await ctx.content.read(img.id))).toBe(img.id);
    // re-opening the store sees the same state
    const again = await openStore(dir.path);
    // each layer also carries the bytes of its files (Docker's size): 5 and 1 here
    expect((await again.images.get('app:1'))?.layers).toEqual(a.map((l, i) => ({ ...l, contentSize: [5, 1][i] })));
  });

  test('a short prefix shared by two ids is ambiguous', async () => {
    const ids: string[] = [];
    let clash: string | undefined;
    for (let i = 0; i < 17 && !clash; i++) {
      const img = await ctx.images.create({ config: configFor([], { Labels: { n: String(i) } }), layers: [] });
      const c = img.id.slice(7, 8);
      if (ids.includes(c)) clash = c;
      ids.push(c);
    }
    expect(clash).toBeDefined();
    expect(await codeOf(ctx.images.get(clash!))).toBe('TB_IMAGE_AMBIGUOUS');
  });

  test('tag moves a name; untag removes it', async () => {
    const { a, b } = await twoLayerImages();
    const A = await ctx.images.create({ config: configFor(a), layers: a, names: ['app'] });
    const B = await ctx.images.create({ config: configFor(b), layers: b });
    await ctx.images.tag('app', 'other:2');
    expect((await ctx.images.get('other:2'))?.id).toBe(A.id);
    await ctx.images.tag(B.id, 'app');
    expect((await ctx.images.get('app'))?.id).toBe(B.id);
    expect((await ctx.images.get(A.id))?.names).toEqual(['docker.io/library/other:2']);
    expect(await ctx.images.untag('other:2')).toBe('docker.io/library/other:2');
    expect(await codeOf(ctx.images.untag('other:2'))).toBe('TB_IMAGE_NOT_FOUND');
    expect(await codeOf(ctx.images.tag('app', 'Bad'))).toBe('TB_REFERENCE_INVALID');
    expect(await codeOf(ctx.images.tag('missing', 'x'))).toBe('TB_IMAGE_NOT_FOUND');
  });

  test('remove: untag first, delete with the last name, shared layers survive', async () => {
    const { a, b } = await twoLayerImages();
    const A = await ctx.images.create({ config: configFor(a), layers: a, names: ['app:1', 'app:2'] });
    const B = await ctx.images.create({ config: configFor(b), layers: b, names: ['bee'] });
    expect(await ctx.images.remove('app:1')).toEqual([{ Untagged: 'app:1' }]);
    expect(await ctx.images.get(A.id)).toBeDefined();
    const res = await ctx.images.remove('app:2');
    expect(res[0]).toEqual({ Untagged: 'app:2' });
    expect(res[1]).toEqual({ Deleted: A.id });
    // only the top layer (not shared) is deleted
    expect(res.slice(2)).toEqual([{ Deleted: a[1]!.snapshot }]);
    expect(await ctx.images.get(A.id)).toBeUndefined();
    expect(await ctx.snapshots.exists(a[0]!.snapshot)).toBe(true);
    expect(await ctx.snapshots.exists(a[1]!.snapshot)).toBe(false);
    expect(await ctx.content.info(a[0]!.diffId)).toBeDefined();
    expect(await ctx.content.info(A.id)).toBeUndefined();
    // B still whole
    expect((await ctx.images.resolve('bee')).layers).toMatchObject(b);
    expect(await ctx.snapshots.chain(b[1]!.snapshot)).toHaveLength(2);
    await ctx.images.remove('bee');
    expect(await inventory(ctx)).toEqual({ snapshots: [], blobs: [] });
    expect(B.id).not.toBe(A.id);
  });

  test('remove by id: several repositories need force; one repository untags all', async () => {
    const { a, b } = await twoLayerImages();
    const A = await ctx.images.create({ config: configFor(a), layers: a, names: ['app:1', 'web:1'] });
    const err = await ctx.images.remove(A.id.slice(7, 19)).catch((e: unknown) => e);
    expect(isTbuildError(err, 'TB_IMAGE_IN_USE')).toBe(true);
    expect((err as Error).message).toBe(
      `conflict: unable to delete ${A.id.slice(7, 19)} (must be forced) - image is referenced in multiple repositories`,
    );
    const forced = await ctx.images.remove(A.id, { force: true });
    expect(forced.slice(0, 3)).toEqual([{ Untagged: 'app:1' }, { Untagged: 'web:1' }, { Deleted: A.id }]);
    const B = await ctx.images.create({ config: configFor(b), layers: b, names: ['bee:1'] });
    expect((await ctx.images.remove(B.id)).slice(0, 2)).toEqual([{ Untagged: 'bee:1' }, { Deleted: B.id }]);
  });

  test('an image a container uses is kept unless forced; a running one always', async () => {
    const { a } = await twoLayerImages();
    const A = await ctx.images.create({ config: configFor(a), layers: a, names: ['app'] });
    let running = false;
    ctx.images.setInUseCheck(async (id) => (id === A.id ? { container: 'c0ffee'.repeat(10), running } : undefined));
    expect(await codeOf(ctx.images.remove('app'))).toBe('TB_IMAGE_IN_USE');
    expect(await codeOf(ctx.images.remove(A.id))).toBe('TB_IMAGE_IN_USE');
    running = true;
    const err = await ctx.images.remove(A.id, { force: true }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/\(cannot be forced\) - image is being used by running container c0ffeec0ffee$/);
    running = false;
    const res = await ctx.images.remove(A.id, { force: true });
    expect(res).toContainEqual({ Deleted: A.id });
  });

  test('create checks layers against the config', async () => {
    const { a } = await twoLayerImages();
    expect(await codeOf(ctx.images.create({ config: configFor(a.slice(0, 1)), layers: a }))).toBe('TB_INVALID_ARGUMENT');
  });
});

describe('prune', () => {
  test('dangling images go; with all, every image no container uses', async () => {
    const { pruneImages } = await import('../../src/images/prune.js');
    const { a, b } = await twoLayerImages();
    const A = await ctx.images.create({ config: configFor(a), layers: a });
    const B = await ctx.images.create({ config: configFor(b), layers: b, names: ['bee'] });
    const C = await ctx.images.create({ config: configFor([], { Labels: { c: '1' } }), layers: [], names: ['cee'] });
    ctx.images.setInUseCheck(async (id) => (id === C.id ? { container: 'abc', running: false } : undefined));
    const first = await pruneImages(ctx.images);
    expect(first.ImagesDeleted).toEqual([{ Deleted: A.id }, { Deleted: a[1]!.snapshot }]);
    expect(first.SpaceReclaimed).toBe(a[1]!.size);
    const all = await pruneImages(ctx.images, { all: true });
    expect(all.ImagesDeleted).toContainEqual({ Untagged: 'bee:latest' });
    expect(all.ImagesDeleted).toContainEqual({ Deleted: B.id });
    expect((await ctx.images.list()).map((i) => i.id)).toEqual([C.id]);
  });
});

describe('repo digests', () => {
  test('lookup by repo@digest; the last tag of a repository takes its digests along', async () => {
    const { a } = await twoLayerImages();
    const md = sha256('manifest');
    const A = await ctx.images.create({ config: configFor(a), layers: a, names: ['app:1', 'other:1'], repoDigests: [`app@${md}`] });
    expect(A.repoDigests).toEqual([`docker.io/library/app@${md}`]);
    expect((await ctx.images.get(`app@${md}`))?.id).toBe(A.id);
    expect((await ctx.images.get(`docker.io/library/app:1@${md}`))?.id).toBe(A.id);
    expect(await ctx.images.get(`other@${md}`)).toBeUndefined();
    expect(await ctx.images.remove('app:1')).toEqual([{ Untagged: 'app:1' }, { Untagged: `app@${md}` }]);
    expect((await ctx.images.resolve(A.id)).repoDigests).toEqual([]);
    expect(await codeOf(ctx.images.create({ config: configFor(a), layers: a, repoDigests: ['app:1'] }))).toBe('TB_REFERENCE_INVALID');
  });
});
