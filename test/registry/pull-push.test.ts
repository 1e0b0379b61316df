import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../support/tmp.js';
import { openParts } from '../support/engine-parts.js';
import { makeTestArchive, run, startRegistry, type TestRegistry } from '../support/registry.js';
import { Registry } from '../../src/registry/client.js';
import { fixedCredentials } from '../../src/registry/credentials.js';
import { pullImage } from '../../src/registry/pull.js';
import { pushImage } from '../../src/registry/push.js';
import { isInsecureHost } from '../../src/registry/transport.js';
import { MT } from '../../src/registry/media-types.js';
import { exportLayer } from '../../src/images/layers.js';
import { sha256, type Digest } from '../../src/util/digest.js';
import type { EngineParts } from '../../src/engine.js';

/** Pull and push through the library against a plain docker-registry: formats, platforms, bad inputs. */

let dir: { path: string; cleanup: () => Promise<void> };
let reg: TestRegistry;
let client: Registry;
let n = 0;
const SRC = 'test/busybox:1';

beforeAll(async () => {
  dir = await tempDir('tb-regpp-');
  const archive = await makeTestArchive(dir.path);
  reg = await startRegistry('plain');
  const copied = await run('skopeo', ['copy', '-q', ...reg.skopeoFlags('dest'), `docker-archive:${archive.file}`, `docker://${reg.host}/${SRC}`]);
  expect(copied.stderr).toBe('');
  client = new Registry({ certsDir: reg.certsDir });
}, 120_000);
afterAll(async () => {
  await client?.close();
  await reg?.stop();
  await dir?.cleanup();
});

async function freshParts(): Promise<EngineParts> {
  return openParts(join(dir.path, `root-${n++}`));
}

/** Everything a failed pull could have left: images, snapshots, blobs. */
async function leftovers(parts: EngineParts): Promise<{ images: number; blobs: number; snapshots: string[] }> {
  const blobs: string[] = [];
  for await (const b of parts.content.walk()) blobs.push(b.digest);
  const snapshots = await readdir(join(parts.root, 'snapshots')).catch(() => [] as string[]);
  return { images: (await parts.images.list()).length, blobs: blobs.length, snapshots: snapshots.filter((s) => s !== 'metadata') };
}

describe('pull', () => {
  test('by tag and by digest; layers already present are not fetched again', async () => {
    const parts = await freshParts();
    const events: string[] = [];
    const first = await pullImage(parts, client, `${reg.host}/${SRC}`, { onProgress: (p) => events.push(`${p.id ?? ''} ${p.status}`) });
    expect(first.upToDate).toBe(false);
    expect(first.image.layers).toHaveLength(2);
    expect(events.filter((e) => e.endsWith('Pull complete'))).toHaveLength(2);
    const again: string[] = [];
    const byDigest = await pullImage(parts, client, `${reg.host}/test/busybox@${first.digest}`, { onProgress: (p) => again.push(`${p.id ?? ''} ${p.status}`) });
    expect(byDigest.image.id).toBe(first.image.id);
    // the image is here already: straight to the digest, no line per layer (as dockerd 26)
    expect(again).toEqual([
      `${reg.host}/test/busybox@${first.digest} Pulling from test/busybox`,
      ` Digest: ${first.digest}`,
      ` Status: Image is up to date for ${reg.host}/test/busybox@${first.digest}`,
    ]);
    expect(byDigest.upToDate).toBe(true);
    expect(byDigest.name).toBe(`${reg.host}/test/busybox@${first.digest}`);
    // The store keeps each layer as the registry gave it (compressed), not the uncompressed tar;
    // the tar comes back from it, checked against the diffID.
    const manifest = JSON.parse((await client.fetcher({ domain: reg.host, path: 'test/busybox' }).manifest('1')).bytes.toString()) as { layers: Array<{ digest: string }> };
    for (const [i, l] of manifest.layers.entries()) {
      const layer = first.image.layers[i]!;
      expect(layer.compressed?.digest).toBe(l.digest);
      expect(await parts.content.info(l.digest as never)).toBeDefined();
      expect(await parts.content.info(layer.diffId)).toBeUndefined();
      const { stream, size } = await exportLayer(parts, layer);
      const tar = Buffer.concat(await stream.toArray());
      expect([sha256(tar), tar.length]).toEqual([layer.diffId, size]);
    }
    // Removing the image removes the blobs it kept.
    await parts.images.remove(first.image.id, { force: true });
    expect(await leftovers(parts)).toEqual({ images: 0, blobs: 0, snapshots: [] });
  });

  test('an index: the host platform is chosen; a missing one is an error listing those present', async () => {
    const parts = await freshParts();
    const fetcher = client.fetcher({ domain: reg.host, path: 'test/busybox' });
    const m = await fetcher.manifest('1');
    const pusher = client.pusher({ domain: reg.host, path: 'test/busybox' });
    const index = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.ociIndex,
      manifests: [
        { ...m.descriptor, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
        { ...m.descriptor, platform: { os: 'linux', architecture: 'amd64' } },
      ],
    }));
    await pusher.putManifest('multi', MT.ociIndex, index);
    const pulled = await pullImage(parts, client, `${reg.host}/test/busybox:multi`);
    expect(pulled.digest).toBe(sha256(index));
    expect(pulled.image.repoDigests).toContain(`${reg.host}/test/busybox@${sha256(index)}`);
    await expect(pullImage(parts, client, `${reg.host}/test/busybox:multi`, { platform: { os: 'linux', architecture: 's390x' } })).rejects.toMatchObject({
      code: 'TB_PLATFORM_NOT_FOUND',
      message: expect.stringContaining('linux/arm64/v8, linux/amd64'),
    });
  });

  test('--platform of an image that is no index: kept, and the pull fails naming both platforms, as dockerd', async () => {
    const parts = await freshParts();
    const arm64 = { os: 'linux', architecture: 'arm64' };
    await expect(pullImage(parts, client, `${reg.host}/test/busybox:1`, { platform: arm64, requirePlatform: true })).rejects.toMatchObject({
      code: 'TB_PLATFORM_NOT_FOUND',
      message: `image with reference ${reg.host}/test/busybox:1 was found but does not match the specified platform: wanted linux/arm64, actual: linux/amd64`,
    });
    expect((await parts.images.get(`${reg.host}/test/busybox:1`))?.config.architecture).toBe('amd64');
    // the host's own platform asked for: no complaint; a build's FROM (no requirePlatform) takes what there is
    await pullImage(parts, client, `${reg.host}/test/busybox:1`, { platform: { os: 'linux', architecture: 'amd64' }, requirePlatform: true });
    await pullImage(parts, client, `${reg.host}/test/busybox:1`, { platform: arm64 });
  });

  test('an unknown tag or repository names the reference and says not found', async () => {
    const parts = await freshParts();
    await expect(pullImage(parts, client, `${reg.host}/test/busybox:nope`)).rejects.toMatchObject({
      code: 'TB_REGISTRY_NOT_FOUND',
      // Docker's words: the registry's code as dockerd spells it, said once
      message: `manifest for ${reg.host}/test/busybox:nope not found: manifest unknown: manifest unknown`,
    });
    await expect(pullImage(parts, client, `${reg.host}/no/such-repo`)).rejects.toMatchObject({ code: 'TB_REGISTRY_NOT_FOUND' });
    expect(await leftovers(parts)).toEqual({ images: 0, blobs: 0, snapshots: [] });
  });

  test('a registry that is down is named, and fails fast', async () => {
    const parts = await freshParts();
    await expect(pullImage(parts, client, '127.0.0.1:1/test/busybox:1')).rejects.toMatchObject({
      code: 'TB_REGISTRY_UNREACHABLE',
      message: expect.stringContaining('127.0.0.1:1'),
    });
  });

  test('a blob whose bytes do not match its digest: named, nothing kept', async () => {
    // Copy the image to its own repository, then corrupt one of its layers in the registry's storage.
    const copied = await run('skopeo', ['copy', '-q', ...reg.skopeoFlags('src'), ...reg.skopeoFlags('dest'), `docker://${reg.host}/${SRC}`, `docker://${reg.host}/test/corrupt:1`]);
    expect(copied.stderr).toBe('');
    const m = JSON.parse((await client.fetcher({ domain: reg.host, path: 'test/corrupt' }).manifest('1')).bytes.toString()) as { layers: Array<{ digest: string }> };
    const layer = m.layers[1]!.digest;
    const hex = layer.slice(7);
    const file = join(reg.storage, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    const bytes = await readFile(file);
    bytes[bytes.length - 10] ^= 0xff;
    await writeFile(file, bytes);
    try {
      const parts = await freshParts();
      await expect(pullImage(parts, client, `${reg.host}/test/corrupt:1`)).rejects.toMatchObject({
        code: 'TB_CONTENT_DIGEST_MISMATCH',
        message: expect.stringContaining(layer),
      });
      expect(await leftovers(parts)).toEqual({ images: 0, blobs: 0, snapshots: [] });
    } finally {
      bytes[bytes.length - 10] ^= 0xff;
      await writeFile(file, bytes);
    }
  });
});

test('a large layer is hashed on the worker that extracts it: kept under its digest when intact, named and dropped when not', async () => {
  // pushed by tbuild from a store of its own: one 6 MB layer of random bytes (gzip keeps it that size)
  const src = await freshParts();
  const { importLayers } = await import('../../src/images/layers.js');
  const { makeTar } = await import('../cache/layer/tar-helpers.js');
  const { Readable } = await import('node:stream');
  const big = await makeTar([{ name: 'big.bin', content: (await import('node:crypto')).randomBytes(6 << 20) }]);
  const layers = await importLayers(src, [{ open: () => Readable.from([big]) }]);
  const config = { architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers' as const, diff_ids: layers.map((l) => l.diffId) } };
  await src.images.create({ config, layers, names: ['big:1'] });
  const ref = `${reg.host}/test/big-layer:1`;
  await pushImage(src, client, ref, { image: 'big:1' });
  const m = JSON.parse((await client.fetcher({ domain: reg.host, path: 'test/big-layer' }).manifest('1')).bytes.toString()) as { layers: Array<{ digest: string; size: number }> };
  const layer = m.layers[0]!;
  expect(layer.size).toBeGreaterThan(4 << 20);

  const parts = await freshParts();
  const pulled = await pullImage(parts, client, ref);
  expect(pulled.image.layers[0]!.diffId).toBe(layers[0]!.diffId);
  expect(await parts.content.info(layer.digest as Digest)).toEqual({ digest: layer.digest, size: layer.size });
  expect(sha256(await parts.content.read(layer.digest as Digest))).toBe(layer.digest);

  const hex = layer.digest.slice(7);
  const file = join(reg.storage, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
  const bytes = await readFile(file);
  const at = bytes.length >> 1;
  bytes[at] ^= 0xff;
  await writeFile(file, bytes);
  try {
    const fresh = await freshParts();
    await expect(pullImage(fresh, client, ref)).rejects.toMatchObject({ code: 'TB_CONTENT_DIGEST_MISMATCH', message: expect.stringContaining(layer.digest) });
    expect(await leftovers(fresh)).toEqual({ images: 0, blobs: 0, snapshots: [] });
  } finally {
    bytes[at] ^= 0xff;
    await writeFile(file, bytes);
  }
}, 60_000);

test('a registry that serves other bytes under a blob\'s digest: the digest mismatch is the error, whatever they unpack to, and nothing is left', async () => {
  // two images of one large layer each, one byte apart (random bytes: gzip stores them as they
  // are, so the two blobs are the same size)
  const { importLayers } = await import('../../src/images/layers.js');
  const { makeTar } = await import('../cache/layer/tar-helpers.js');
  const { Readable } = await import('node:stream');
  const { randomBytes } = await import('node:crypto');
  const src = await freshParts();
  const pushed: Array<{ digest: string; size: number }> = [];
  const content = randomBytes(5 << 20);
  for (const tag of ['a', 'b']) {
    if (tag === 'b') content[1000] ^= 0xff;
    const tar = await makeTar([{ name: 'big.bin', content }]);
    const layers = await importLayers(src, [{ open: () => Readable.from([tar]) }]);
    const config = { architecture: 'amd64', os: 'linux', config: { Labels: { tag } }, rootfs: { type: 'layers' as const, diff_ids: layers.map((l) => l.diffId) } };
    await src.images.create({ config, layers, names: [`swap:${tag}`] });
    await pushImage(src, client, `${reg.host}/test/swap:${tag}`, { image: `swap:${tag}` });
    const m = JSON.parse((await client.fetcher({ domain: reg.host, path: 'test/swap' }).manifest(tag)).bytes.toString()) as { layers: Array<{ digest: string; size: number }> };
    pushed.push(m.layers[0]!);
  }
  expect(pushed[0]!.size).toBe(pushed[1]!.size);
  const blobFile = (digest: string) => join(reg.storage, 'docker/registry/v2/blobs/sha256', digest.slice(7, 9), digest.slice(7), 'data');
  const original = await readFile(blobFile(pushed[0]!.digest));
  await writeFile(blobFile(pushed[0]!.digest), await readFile(blobFile(pushed[1]!.digest)));
  try {
    const fresh = await freshParts();
    await expect(pullImage(fresh, client, `${reg.host}/test/swap:a`)).rejects.toMatchObject({ code: 'TB_CONTENT_DIGEST_MISMATCH', message: expect.stringContaining(pushed[0]!.digest) });
    expect(await leftovers(fresh)).toEqual({ images: 0, blobs: 0, snapshots: [] });
    // The same layer gzipped otherwise (only the header's OS byte differs): it unpacks to the
    // right diffID, so only the blob's digest tells; no snapshot of it is left either.
    const recompressed = Buffer.from(original);
    recompressed[9] = 3;
    await writeFile(blobFile(pushed[0]!.digest), recompressed);
    const again = await freshParts();
    await expect(pullImage(again, client, `${reg.host}/test/swap:a`)).rejects.toMatchObject({ code: 'TB_CONTENT_DIGEST_MISMATCH', message: expect.stringContaining(pushed[0]!.digest) });
    expect(await leftovers(again)).toEqual({ images: 0, blobs: 0, snapshots: [] });
  } finally {
    await writeFile(blobFile(pushed[0]!.digest), original);
  }
}, 60_000);

test('docker.io pulls go through registry mirrors, passing over one that is down', async () => {
  const copied = await run('skopeo', ['copy', '-q', ...reg.skopeoFlags('src'), ...reg.skopeoFlags('dest'), `docker://${reg.host}/${SRC}`, `docker://${reg.host}/library/busybox:mirrored`]);
  expect(copied.stderr).toBe('');
  const mirrored = new Registry({ mirrors: ['http://127.0.0.1:1', `http://${reg.host}`], attempts: 1 });
  try {
    const parts = await freshParts();
    const pulled = await pullImage(parts, mirrored, 'busybox:mirrored');
    expect(pulled.name).toBe('docker.io/library/busybox:mirrored');
    expect(pulled.image.names).toContain('docker.io/library/busybox:mirrored');
    expect(pulled.image.repoDigests[0]).toMatch(/^docker\.io\/library\/busybox@sha256:/);
  } finally {
    await mirrored.close();
  }
});

test('bearer tokens are cached per scope until they expire', async () => {
  const tokenReg = await startRegistry('token');
  const c = new Registry({ credentials: fixedCredentials(tokenReg.host, tokenReg.user!) });
  try {
    const copied = await run('skopeo', ['copy', '-q', ...tokenReg.skopeoFlags('dest'), `docker://${reg.host}/${SRC}`, `docker://${tokenReg.host}/${SRC}`, '--src-tls-verify=false']);
    expect(copied.stderr).toBe('');
    tokenReg.tokenRequests.length = 0;
    await pullImage(await freshParts(), c, `${tokenReg.host}/${SRC}`);
    await pullImage(await freshParts(), c, `${tokenReg.host}/${SRC}`);
    expect(tokenReg.tokenRequests).toEqual(['repository:test/busybox:pull']);
  } finally {
    await c.close();
    await tokenReg.stop();
  }
});

describe('push', () => {
  test('uploads each layer once, mounts across repositories, and reads back identically', async () => {
    const parts = await freshParts();
    const pulled = await pullImage(parts, client, `${reg.host}/${SRC}`);
    await parts.images.tag(pulled.image.id, `${reg.host}/test/pushed:a`);
    const events: string[] = [];
    const a = await pushImage(parts, client, `${reg.host}/test/pushed:a`, { onProgress: (p) => events.push(p.status) });
    // Layers pulled from test/busybox on the same registry are mounted rather than uploaded.
    expect(events.filter((s) => s === 'Mounted from test/busybox')).toHaveLength(2);
    expect(a.digest).toMatch(/^sha256:/);

    // A freshly built image (no known compressed form) is compressed and uploaded, then found on the second push.
    const other = await freshParts();
    const again = await pullImage(other, client, `${reg.host}/${SRC}`);
    const layer = again.image.layers[1]!;
    const blobs = join(other.root, 'registry');
    await run('rm', ['-rf', blobs]);
    await other.images.tag(again.image.id, `${reg.host}/fresh/repo:1`);
    const ev1: string[] = [];
    const first = await pushImage(other, client, `${reg.host}/fresh/repo:1`, { onProgress: (p) => ev1.push(p.status) });
    expect(ev1.filter((s) => s === 'Pushed')).toHaveLength(2);
    // The pulled layers went up as the bytes they came as, not compressed again.
    const layerDigests = async (path: string, ref: string) =>
      (JSON.parse((await client.fetcher({ domain: reg.host, path }).manifest(ref)).bytes.toString()) as { layers: Array<{ digest: string }> }).layers.map((l) => l.digest);
    expect(await layerDigests('fresh/repo', first.digest)).toEqual(await layerDigests('test/busybox', '1'));
    const ev2: string[] = [];
    const second = await pushImage(other, client, `${reg.host}/fresh/repo:1`, { onProgress: (p) => ev2.push(p.status) });
    expect(ev2.filter((s) => s === 'Layer already exists')).toHaveLength(2);

    // What was pushed pulls back into a fresh store with the same image id and layer diffIDs.
    const third = await freshParts();
    const back = await pullImage(third, client, `${reg.host}/fresh/repo@${second.digest}`);
    expect(back.image.id).toBe(again.image.id);
    expect(back.image.layers[1]!.diffId).toBe(layer.diffId);
  });
});

test('plain HTTP only for loopback and listed registries', () => {
  expect(isInsecureHost('127.0.0.1:5000')).toBe(true);
  expect(isInsecureHost('localhost:5000')).toBe(true);
  expect(isInsecureHost('[::1]:5000')).toBe(true);
  expect(isInsecureHost('registry.example:5000')).toBe(false);
  expect(isInsecureHost('10.1.2.3:5000')).toBe(false);
  expect(isInsecureHost('10.1.2.3:5000', ['10.0.0.0/8'])).toBe(true);
  expect(isInsecureHost('registry.example:5000', ['registry.example:5000'])).toBe(true);
});
