import { afterEach, describe, expect, test } from 'vitest';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { tempDir } from '../support/tmp.js';
import { LayoutFetcher, LayoutPusher } from '../../src/remotecache/layout.js';
import { sha256, digestHex } from '../../src/util/digest.js';

/** `type=local` caches: an OCI image layout read and written through the registry client's interfaces. */

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function dir(): Promise<string> {
  const t = await tempDir();
  cleanups.push(t.cleanup);
  return t.path;
}

const collect = async (r: Readable): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
};

describe('OCI layout cache store', () => {
  test('blobs and a tagged manifest go in; a tag is replaced, never duplicated', async () => {
    const d = await dir();
    const p = new LayoutPusher(d);
    const blob = await p.pushStream(Readable.from([Buffer.from('layer bytes')]));
    expect(blob).toEqual({ digest: sha256('layer bytes'), size: 11 });
    expect(await p.hasBlob(blob.digest)).toBe(true);
    const m1 = await p.putManifest('latest', 'application/vnd.oci.image.manifest.v1+json', Buffer.from('{"v":1}'));
    const m2 = await p.putManifest('latest', 'application/vnd.oci.image.manifest.v1+json', Buffer.from('{"v":2}'));
    await p.putManifest('other', 'application/vnd.oci.image.manifest.v1+json', Buffer.from('{"v":3}'));
    const index = JSON.parse(await readFile(join(d, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations: Record<string, string> }> };
    expect(index.manifests.map((m) => m.annotations['org.opencontainers.image.ref.name']).sort()).toEqual(['latest', 'other']);
    expect(index.manifests.find((m) => m.annotations['org.opencontainers.image.ref.name'] === 'latest')!.digest).toBe(m2);
    expect(JSON.parse(await readFile(join(d, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    // no temporary files left beside the blobs
    expect((await readdir(join(d, 'blobs', 'sha256'))).every((n) => /^[0-9a-f]{64}$/.test(n))).toBe(true);

    const f = new LayoutFetcher(d);
    const top = await f.manifest('latest');
    expect(top.bytes.toString()).toBe('{"v":2}');
    expect((await f.manifest(m1)).bytes.toString()).toBe('{"v":1}');
    expect((await collect(await f.blob({ mediaType: 'x', ...blob }))).toString()).toBe('layer bytes');
  });

  test('bad input: no layout, unknown tag, a blob whose bytes do not match its digest', async () => {
    const d = await dir();
    await expect(new LayoutFetcher(d).manifest('latest')).rejects.toThrow(/no OCI layout there/);
    const p = new LayoutPusher(d);
    const blob = await p.pushStream(Readable.from([Buffer.from('good bytes')]));
    await p.putManifest('latest', 'application/vnd.oci.image.manifest.v1+json', Buffer.from('{}'));
    const f = new LayoutFetcher(d);
    await expect(f.manifest('nope')).rejects.toThrow(/no manifest tagged nope/);
    await writeFile(join(d, 'blobs', 'sha256', digestHex(blob.digest)), 'evil bytes');
    await expect(collect(await f.blob({ mediaType: 'x', ...blob }))).rejects.toThrow(/does not match its digest/);
    await writeFile(join(d, 'index.json'), 'not json');
    await expect(f.manifest('latest')).rejects.toThrow(/index.json is not an OCI index/);
  });
});
