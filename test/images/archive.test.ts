import { busyboxFacts } from '../support/busybox-image.js';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createReadStream } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { tempDir, mountsUnder } from '../support/tmp.js';
import { BUSYBOX_TAR } from '../support/cli.js';
import { inventory, makeTar, openStore, readTar, type TarEntry } from './helpers.js';
import { loadImageArchive, saveDockerArchive } from '../../src/images/docker-archive.js';
import { saveOciLayout } from '../../src/images/oci-layout.js';
import { isTbuildError } from '../../src/errors.js';
import { sha256 } from '../../src/util/digest.js';

// The suite's busybox image is made on this machine: its digests come from the archive.
const { id: BUSYBOX_ID, diffId: BUSYBOX_DIFF } = busyboxFacts();

let dir: { path: string; cleanup: () => Promise<void> };

beforeEach(async () => {
  dir = await tempDir('tb-arc-');
});
afterEach(async () => {
  expect(await mountsUnder(dir.path)).toEqual([]);
  await dir.cleanup();
});

async function collect(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

function skopeo(args: string[]): string {
  return execFileSync('skopeo', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('docker-archive and OCI layout', () => {
  test('load busybox, save both formats, skopeo reads them, round trip keeps id and diffIDs', async () => {
    const a = await openStore(join(dir.path, 'a'));
    const loaded = await loadImageArchive(a, createReadStream(BUSYBOX_TAR));
    expect(loaded).toEqual([{ id: BUSYBOX_ID, names: ['docker.io/library/busybox:local'] }]);
    const img = await a.images.resolve('busybox:local');
    expect(img.config.rootfs.diff_ids).toEqual([BUSYBOX_DIFF]);
    expect(img.layers.map((l) => l.diffId)).toEqual([BUSYBOX_DIFF]);
    // the applied snapshot holds the busybox userland
    const layerDir = await a.snapshots.layerDir(img.layers[0]!.snapshot);
    expect((await readdir(layerDir)).sort()).toContain('bin');

    const dockerTar = join(dir.path, 'save-docker.tar');
    await writeFile(dockerTar, await collect(await saveDockerArchive(a, ['busybox:local'])));
    const ociTar = join(dir.path, 'save-oci.tar');
    await writeFile(ociTar, await collect(await saveOciLayout(a, ['busybox:local'])));

    for (const transport of [`docker-archive:${dockerTar}`, `oci-archive:${ociTar}`]) {
      const info = JSON.parse(skopeo(['inspect', transport])) as { Layers: string[]; Architecture: string; Os: string };
      expect(info.Layers, transport).toEqual([BUSYBOX_DIFF]);
      expect(info.Architecture).toBe('amd64');
      expect(info.Os).toBe('linux');
      const rawConfig = execFileSync('skopeo', ['inspect', '--config', '--raw', transport]);
      expect(sha256(rawConfig), transport).toBe(BUSYBOX_ID);
    }
    const members = await readTar(await readFile(dockerTar));
    expect(JSON.parse(members.get('manifest.json')!.toString())).toEqual([
      { Config: `blobs/sha256/${BUSYBOX_ID.slice(7)}`, RepoTags: ['busybox:local'], Layers: [`blobs/sha256/${BUSYBOX_DIFF.slice(7)}`] },
    ]);
    expect(sha256(members.get(`blobs/sha256/${BUSYBOX_DIFF.slice(7)}`)!)).toBe(BUSYBOX_DIFF);

    for (const [name, file] of [['b', dockerTar], ['c', ociTar]] as const) {
      const other = await openStore(join(dir.path, name));
      const again = await loadImageArchive(other, createReadStream(file));
      expect(again).toEqual([{ id: BUSYBOX_ID, names: ['docker.io/library/busybox:local'] }]);
      expect((await other.images.resolve('busybox:local')).config.rootfs.diff_ids).toEqual([BUSYBOX_DIFF]);
    }
    // loading again into the same root is a no-op on storage
    const before = await inventory(a);
    await loadImageArchive(a, createReadStream(dockerTar));
    expect(await inventory(a)).toEqual(before);
  });

  test('gzipped archive; legacy layout with bzip2, xz, zstd and gzip layers', async () => {
    const ctx = await openStore(dir.path);
    const gz = execFileSync('gzip', ['-c', BUSYBOX_TAR], { maxBuffer: 64 << 20 });
    expect(await loadImageArchive(ctx, Readable.from([gz]))).toEqual([{ id: BUSYBOX_ID, names: ['docker.io/library/busybox:local'] }]);

    const layers: Buffer[] = [];
    for (let i = 0; i < 4; i++) layers.push(await makeTar([{ name: `f${i}`, content: `layer ${i}\n` }]));
    const tools = [['bzip2', '-c'], ['xz', '-c'], ['zstd', '-q', '-c'], ['gzip', '-c']];
    const compressed = layers.map((l, i) => execFileSync(tools[i]![0]!, tools[i]!.slice(1), { input: l }));
    const config = JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['/f0'] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => sha256(l)) },
    });
    const cfgHex = sha256(config).slice(7);
    const entries: TarEntry[] = [
      ...compressed.map((c, i) => ({ name: `l${i}/layer.tar`, content: c })),
      { name: `${cfgHex}.json`, content: config },
      { name: 'manifest.json', content: JSON.stringify([{ Config: `${cfgHex}.json`, RepoTags: ['mix:1'], Layers: layers.map((_, i) => `l${i}/layer.tar`) }]) },
    ];
    const res = await loadImageArchive(ctx, Readable.from([await makeTar(entries)]));
    expect(res[0]!.id).toBe(`sha256:${cfgHex}`);
    const img = await ctx.images.resolve('mix:1');
    expect(img.layers.map((l) => l.diffId)).toEqual(layers.map((l) => sha256(l)));
    const top = await ctx.snapshots.layerDir(img.layers[3]!.snapshot);
    expect(await readFile(join(top, 'f3'), 'utf8')).toBe('layer 3\n');
  });

  test('save by id has no names; a bare repository saves all its tags', async () => {
    const ctx = await openStore(dir.path);
    await loadImageArchive(ctx, createReadStream(BUSYBOX_TAR));
    await ctx.images.tag('busybox:local', 'busybox:two');
    const byId = await readTar(await collect(await saveDockerArchive(ctx, [BUSYBOX_ID.slice(7, 19)])));
    expect(JSON.parse(byId.get('manifest.json')!.toString())[0].RepoTags).toBeNull();
    const byRepo = await readTar(await collect(await saveDockerArchive(ctx, ['busybox'])));
    expect(JSON.parse(byRepo.get('manifest.json')!.toString())[0].RepoTags).toEqual(['busybox:local', 'busybox:two']);
    await expect(saveDockerArchive(ctx, ['nope'])).rejects.toThrow('No such image: nope');
  });
});

describe('hostile archives are refused and leave nothing', () => {
  const layer = makeTar([{ name: 'x', content: 'x\n' }]);
  async function archiveWith(mutate: (e: TarEntry[], parts: { config: string; cfgHex: string; layer: Buffer }) => TarEntry[] | Buffer): Promise<Buffer> {
    const l = await layer;
    const config = JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [sha256(l)] } });
    const cfgHex = sha256(config).slice(7);
    const base: TarEntry[] = [
      { name: 'abc/layer.tar', content: l },
      { name: `${cfgHex}.json`, content: config },
      { name: 'manifest.json', content: JSON.stringify([{ Config: `${cfgHex}.json`, RepoTags: ['evil:1'], Layers: ['abc/layer.tar'] }]) },
    ];
    const out = mutate(base, { config, cfgHex, layer: l });
    return Buffer.isBuffer(out) ? out : makeTar(out);
  }

  const cases: Array<[string, Parameters<typeof archiveWith>[0], RegExp]> = [
    ['valid control', (e) => e, /^$/],
    ['member path with ..', (e) => [{ name: '../escape', content: 'x' }, ...e], /escapes the archive/],
    ['absolute member path', (e) => [{ name: '/etc/x', content: 'x' }, ...e], /absolute path/],
    ['symlink out of the archive', (e) => [...e.filter((x) => x.name !== 'abc/layer.tar'), { name: 'abc/layer.tar', type: 'symlink', linkname: '../../etc/passwd' }], /escapes the archive/],
    ['missing layer file', (e) => e.filter((x) => x.name !== 'abc/layer.tar'), /missing "abc\/layer.tar"/],
    ['bad manifest JSON', (e) => e.map((x) => (x.name === 'manifest.json' ? { ...x, content: '[{' } : x)), /manifest.json is not valid JSON/],
    ['manifest not a list', (e) => e.map((x) => (x.name === 'manifest.json' ? { ...x, content: '{}' } : x)), /not a list/],
    ['bad config JSON', (e, p) => [...e.filter((x) => !x.name.endsWith('.json')), { name: 'c.json', content: '{nope' }, { name: 'manifest.json', content: JSON.stringify([{ Config: 'c.json', Layers: ['abc/layer.tar'] }]) }], /config is not valid JSON/],
    ['config digest mismatch', (e, p) => e.map((x) => (x.name === `${p.cfgHex}.json` ? { ...x, content: p.config.replace('amd64', 'arm64') } : x)), /does not match its digest/],
    ['layer content mismatch', (e) => e.map((x) => (x.name === 'abc/layer.tar' ? { ...x, content: Buffer.alloc(1024) } : x)), /diffID|digest/],
    ['layer count mismatch', (e, p) => e.map((x) => (x.name === 'manifest.json' ? { ...x, content: JSON.stringify([{ Config: `${p.cfgHex}.json`, Layers: [] }]) } : x)), /0 layers but the config lists 1/],
    ['bad RepoTag', (e, p) => e.map((x) => (x.name === 'manifest.json' ? { ...x, content: JSON.stringify([{ Config: `${p.cfgHex}.json`, RepoTags: ['UPPER'], Layers: ['abc/layer.tar'] }]) } : x)), /bad RepoTag/],
    ['no manifest at all', (e) => e.filter((x) => x.name !== 'manifest.json'), /no manifest.json or index.json/],
    ['not a tar', () => Buffer.from('hello, this is not a tar archive at all'.repeat(20)), /invalid archive/],
    ['empty input', () => Buffer.alloc(0), /invalid archive/],
    ['truncated gzip', (e) => Buffer.from([0x1f, 0x8b, 0x08, 0x00, 1, 2, 3]), /invalid archive|gzip/],
  ];

  test.each(cases)('%s', async (_name, mutate, message) => {
    const ctx = await openStore(dir.path);
    const data = await archiveWith(mutate);
    const before = await inventory(ctx);
    const err = await loadImageArchive(ctx, Readable.from([data])).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (message.source === '^$') {
      expect(err).toBeUndefined();
      expect((await ctx.images.list()).length).toBe(1);
      return;
    }
    expect(isTbuildError(err, 'TB_ARCHIVE_INVALID'), String(err)).toBe(true);
    expect((err as Error).message).toMatch(message);
    expect(await ctx.images.list()).toEqual([]);
    expect(await inventory(ctx)).toEqual(before);
    expect(await readdir(join(dir.path, 'images', 'tmp'))).toEqual([]);
  });
});

describe('OCI layout archives', () => {
  async function ociArchive(opts: { tamperLayer?: boolean; dropConfig?: boolean; nested?: boolean; refName?: string } = {}): Promise<{ tar: Buffer; id: string; diff: string }> {
    const layer = await makeTar([{ name: 'oci-file', content: 'from an OCI layout\n' }]);
    const gz = execFileSync('gzip', ['-c', '-n'], { input: layer });
    const config = JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/x'] }, rootfs: { type: 'layers', diff_ids: [sha256(layer)] } });
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(gz), size: gz.length }],
    });
    const mdesc = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(manifest), size: manifest.length, platform: { os: 'linux', architecture: 'amd64' } };
    const inner = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ ...mdesc, platform: { os: 'linux', architecture: 'arm64' }, digest: sha256('x'.repeat(10)) }, mdesc] });
    const top = opts.nested ? { mediaType: 'application/vnd.oci.image.index.v1+json', digest: sha256(inner), size: inner.length } : mdesc;
    const index = JSON.stringify({ schemaVersion: 2, manifests: [{ ...top, annotations: { 'org.opencontainers.image.ref.name': opts.refName ?? 'example.com/oci/app:v1' } }] });
    const blob = (d: string) => `blobs/sha256/${d.slice(7)}`;
    const entries: TarEntry[] = [
      { name: 'oci-layout', content: '{"imageLayoutVersion":"1.0.0"}' },
      { name: 'index.json', content: index },
      { name: blob(sha256(manifest)), content: manifest },
      { name: blob(sha256(inner)), content: inner },
      ...(opts.dropConfig ? [] : [{ name: blob(sha256(config)), content: config }]),
      { name: blob(sha256(gz)), content: opts.tamperLayer ? Buffer.concat([gz, Buffer.from('x')]) : gz },
    ];
    return { tar: await makeTar(entries), id: sha256(config), diff: sha256(layer) };
  }

  test('loads a gzip-layer OCI layout, through a nested index, named by ref.name', async () => {
    const ctx = await openStore(dir.path);
    for (const nested of [false, true]) {
      const { tar, id, diff } = await ociArchive({ nested });
      expect(await loadImageArchive(ctx, Readable.from([tar]))).toEqual([{ id, names: ['example.com/oci/app:v1'] }]);
      const img = await ctx.images.resolve('example.com/oci/app:v1');
      expect(img.layers.map((l) => l.diffId)).toEqual([diff]);
      // kept uncompressed locally: the diffID blob exists
      expect(await ctx.content.info(img.layers[0]!.diffId)).toBeDefined();
    }
    // a bare tag as ref.name names nothing
    const { tar, id } = await ociArchive({ refName: 'latest' });
    expect(await loadImageArchive(ctx, Readable.from([tar]))).toEqual([{ id, names: [] }]);
  });

  test.each([
    ['tampered layer', { tamperLayer: true }, /does not match its digest/],
    ['missing config blob', { dropConfig: true }, /is missing/],
  ])('%s is refused', async (_n, opts, msg) => {
    const ctx = await openStore(dir.path);
    const before = await inventory(ctx);
    const { tar } = await ociArchive(opts);
    const err = await loadImageArchive(ctx, Readable.from([tar])).catch((e: unknown) => e);
    expect(isTbuildError(err, 'TB_ARCHIVE_INVALID')).toBe(true);
    expect((err as Error).message).toMatch(msg);
    expect(await inventory(ctx)).toEqual(before);
  });

  test('several images in one archive', async () => {
    const a = await openStore(join(dir.path, 'a'));
    await loadImageArchive(a, createReadStream(BUSYBOX_TAR));
    const { tar, id } = await ociArchive();
    await loadImageArchive(a, Readable.from([tar]));
    for (const save of [saveDockerArchive, saveOciLayout]) {
      const data = await collect(await save(a, ['busybox:local', 'example.com/oci/app:v1']));
      const b = await openStore(join(dir.path, `b-${save.name}`));
      const got = await loadImageArchive(b, Readable.from([data]));
      expect(got.map((g) => g.id).sort()).toEqual([BUSYBOX_ID, id].sort());
      expect((await b.images.list()).flatMap((i) => i.names).sort()).toEqual(['docker.io/library/busybox:local', 'example.com/oci/app:v1']);
    }
  });
});

describe('hostile layers', () => {
  async function archiveWithLayer(layerBytes: Buffer, diffId: string): Promise<Buffer> {
    const config = JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [diffId] } });
    const cfgHex = sha256(config).slice(7);
    return makeTar([
      { name: 'l/layer.tar', content: layerBytes },
      { name: `${cfgHex}.json`, content: config },
      { name: 'manifest.json', content: JSON.stringify([{ Config: `${cfgHex}.json`, RepoTags: ['evil:1'], Layers: ['l/layer.tar'] }]) },
    ]);
  }

  test.each([
    ['entry escaping the layer root', async () => {
      const l = await makeTar([{ name: 'ok', content: 'x' }, { name: '../../escaped', content: 'pwned' }]);
      return { bytes: l, diffId: sha256(l) };
    }],
    ['corrupt xz stream', async () => {
      const l = await makeTar([{ name: 'f', content: 'data'.repeat(1000) }]);
      const xz = execFileSync('xz', ['-c'], { input: l });
      xz[xz.length >> 1] ^= 0xff;
      return { bytes: xz, diffId: sha256(l) };
    }],
    ['truncated gzip layer', async () => {
      const l = await makeTar([{ name: 'f', content: 'data'.repeat(1000) }]);
      const gz = execFileSync('gzip', ['-c'], { input: l });
      return { bytes: gz.subarray(0, gz.length - 20), diffId: sha256(l) };
    }],
  ])('%s', async (_name, make) => {
    const ctx = await openStore(join(dir.path, 'root'));
    const before = await inventory(ctx);
    const { bytes, diffId } = await make();
    const err = await loadImageArchive(ctx, Readable.from([await archiveWithLayer(bytes, diffId)])).catch((e: unknown) => e);
    expect(isTbuildError(err, 'TB_ARCHIVE_INVALID'), String(err)).toBe(true);
    expect(await ctx.images.list()).toEqual([]);
    expect(await inventory(ctx)).toEqual(before);
    expect(await readdir(dir.path)).toEqual(['root']);
  });
});

describe('images made from snapshots (the build path)', () => {
  test('save regenerates the layer tar from the snapshot and checks it against the diffID', async () => {
    const ctx = await openStore(dir.path);
    await ctx.snapshots.prepare('build-k');
    const upper = await ctx.snapshots.layerDir('build-k');
    await writeFile(join(upper, 'built.txt'), 'made by a RUN\n');
    const desc = await ctx.layers.describeDir(upper);
    await ctx.snapshots.commit('build-result-1', 'build-k');
    const img = await ctx.images.create({
      config: { architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [desc.diffId] } },
      layers: [{ diffId: desc.diffId, size: desc.size, snapshot: 'build-result-1' }],
      names: ['built:1'],
    });
    expect(await ctx.content.info(desc.diffId)).toBeUndefined();
    const file = join(dir.path, 'built.tar');
    await writeFile(file, await collect(await saveDockerArchive(ctx, ['built:1'])));
    const info = JSON.parse(skopeo(['inspect', `docker-archive:${file}`])) as { Layers: string[] };
    expect(info.Layers).toEqual([desc.diffId]);
    // rmi leaves snapshots the store did not create (the build cache owns them)
    const removed = await ctx.images.remove('built:1');
    expect(removed).toEqual([{ Untagged: 'built:1' }, { Deleted: img.id }]);
    expect(await ctx.snapshots.exists('build-result-1')).toBe(true);
  });

  test('concurrent loads of one archive give one image and one copy of each layer', async () => {
    const ctx = await openStore(dir.path);
    const res = await Promise.all([1, 2, 3].map(() => loadImageArchive(ctx, createReadStream(BUSYBOX_TAR))));
    expect(new Set(res.map((r) => r[0]!.id))).toEqual(new Set([BUSYBOX_ID]));
    const inv = await inventory(ctx);
    expect(inv.snapshots).toEqual([`committed:${BUSYBOX_DIFF}`]);
    expect(inv.blobs).toContain(BUSYBOX_DIFF);
  });

  test('a crashed load leaves nothing the next open keeps', async () => {
    const ctx = await openStore(dir.path);
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(dir.path, 'images', 'tmp', 'load-dead'), { recursive: true });
    await writeFile(join(dir.path, 'images', 'tmp', 'load-dead', '0'), 'half an archive');
    await ctx.snapshots.prepare('import-dead', undefined, { 'tbuild.image-store/importing': '1' });
    // as if the process that made it had crashed (a live one's import is left alone)
    const meta = join(dir.path, 'snapshots', 'metadata');
    for (const n of (await readdir(meta)).filter((x) => /^\d+\.json$/.test(x))) {
      const rec = JSON.parse(await readFile(join(meta, n), 'utf8')) as { name: string; pid?: number };
      if (rec.name === 'import-dead') await writeFile(join(meta, n), JSON.stringify({ ...rec, pid: spawnSync('true').pid }));
    }
    const again = await openStore(dir.path);
    expect(await readdir(join(dir.path, 'images', 'tmp')).catch(() => [])).toEqual([]);
    expect(await again.snapshots.exists('import-dead')).toBe(false);
  });
});

describe('archives other tools write', () => {
  test('skopeo oci-archive (gzip and zstd layers) and docker-archive load to the same image', async () => {
    const ctx = await openStore(join(dir.path, 'root'));
    const cases: Array<[string, string[], string[]]> = [
      ['oci-gzip.tar', ['oci-archive', 'busybox:sk'], ['docker.io/library/busybox:sk']],
      ['oci-zstd.tar', ['oci-archive', 'zz', '--dest-compress-format', 'zstd'], []],
      ['docker.tar', ['docker-archive', 'busybox:sk2'], ['docker.io/library/busybox:sk2']],
    ];
    for (const [file, [transport, ref, ...flags], names] of cases) {
      const path = join(dir.path, file);
      execFileSync('skopeo', ['copy', '-q', ...flags, `docker-archive:${BUSYBOX_TAR}`, `${transport}:${path}:${ref}`]);
      // skopeo re-serializes the config for OCI (Go's field order), so the id is that of its config blob.
      const id = configDigestIn(path);
      expect(await loadImageArchive(ctx, createReadStream(path)), file).toEqual([{ id, names }]);
      expect((await ctx.images.resolve(id)).layers.map((l) => l.diffId)).toEqual([BUSYBOX_DIFF]);
    }
  });
});

/** The config digest an archive (OCI layout or docker-archive) declares for its one image. */
function configDigestIn(path: string): string {
  const read = (name: string) => execFileSync('tar', ['-xOf', path, name]);
  const list = execFileSync('tar', ['-tf', path], { encoding: 'utf8' }).split('\n');
  if (list.includes('index.json')) {
    const index = JSON.parse(read('index.json').toString()) as { manifests: Array<{ digest: string }> };
    const manifest = JSON.parse(read(`blobs/sha256/${index.manifests[0]!.digest.slice(7)}`).toString()) as { config: { digest: string } };
    return manifest.config.digest;
  }
  const manifest = JSON.parse(read('manifest.json').toString()) as Array<{ Config: string }>;
  return sha256(read(manifest[0]!.Config));
}
