import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mountsUnder, tempDir } from '../support/tmp.js';
import { makeTestArchive, run, startRegistry, type TestRegistry } from '../support/registry.js';
import { Engine } from '../../src/engine.js';
import { parseCacheFrom, parseCacheTo } from '../../src/remotecache/spec.js';
import { chainIds } from '../../src/images/layers.js';
import type { Digest } from '../../src/util/digest.js';
import type { BuildOptions, ProgressEvent } from '../../src/build/types.js';

/**
 * Remote build cache through a real registry (Debian's docker-registry) and OCI layout
 * directories: a build exports its cache, a fresh state root imports it and its RUN steps do not
 * run again (the timestamp a RUN wrote is the same), fetching only the layers its result needs.
 */

let dir: { path: string; cleanup: () => Promise<void> };
let reg: TestRegistry;
let base: string;
let n = 0;
const engines: Engine[] = [];

async function freshEngine(): Promise<Engine> {
  const e = await Engine.open({ root: join(dir.path, `root-${n++}`), registry: { certsDir: reg.certsDir, insecure: [] } });
  engines.push(e);
  return e;
}

async function ctxDir(files: Record<string, string>): Promise<string> {
  const d = join(dir.path, `ctx-${n++}`);
  await mkdir(d, { recursive: true });
  for (const [k, v] of Object.entries(files)) await writeFile(join(d, k), v);
  return d;
}

/** A file of an image, read from the top-most layer that has it (these tests write no whiteouts). */
async function fileIn(engine: Engine, image: string, path: string): Promise<string> {
  const record = await engine.images.resolve(image);
  for (const layer of [...record.layers].reverse()) {
    const text = await readFile(join(await engine.snapshots.layerDir(layer.snapshot), path), 'utf8').catch(() => undefined);
    if (text !== undefined) return text;
  }
  throw new Error(`${path} not in ${image}`);
}

function build(engine: Engine, opts: BuildOptions & { events?: ProgressEvent[] }) {
  const events = opts.events ?? [];
  return engine.build({ ...opts, onProgress: (e) => events.push(e) }).then((r) => ({ ...r, events }));
}

const ran = (events: ProgressEvent[]): string[] =>
  events.flatMap((e) => (e.type === 'vertex' && e.vertex.completed && !e.vertex.cached && !e.vertex.error && /^\[.*\] (RUN|COPY)/.test(e.vertex.name) ? [e.vertex.name] : []));

beforeAll(async () => {
  dir = await tempDir('tb-rcache-');
  const archive = await makeTestArchive(dir.path);
  reg = await startRegistry('plain');
  base = `${reg.host}/test/busybox:1`;
  await run('skopeo', ['copy', '-q', ...reg.skopeoFlags('dest'), `docker-archive:${archive.file}`, `docker://${base}`]);
}, 120_000);
afterAll(async () => {
  for (const e of engines) await e.close().catch(() => {});
  await reg?.stop();
  if (dir) {
    expect(await mountsUnder(dir.path)).toEqual([]);
    await dir.cleanup();
  }
});

const twoStages = () => `FROM ${base} AS builder
RUN od -An -N8 -tx1 /dev/urandom > /built-at && echo builder > /stage
FROM ${base}
COPY app.txt /app.txt
COPY --from=builder /built-at /built-at
RUN od -An -N8 -tx1 /dev/urandom > /final-at
`;

describe('remote build cache', () => {
  test('mode=max to a registry: a fresh root re-runs nothing, and the result is the same', async () => {
    const context = await ctxDir({ Dockerfile: twoStages(), 'app.txt': 'v1\n' });
    const ref = `${reg.host}/cache/app:max`;
    const first = await freshEngine();
    const a = await build(first, { context, tags: ['app:a'], cacheTo: [parseCacheTo(`type=registry,ref=${ref},mode=max`)] });
    expect(ran(a.events).length).toBe(4);
    expect(a.events.some((e) => e.type === 'vertex' && e.vertex.name === 'exporting cache to registry' && e.vertex.completed && !e.vertex.error)).toBe(true);
    // skopeo, the independent client, sees an OCI manifest with our cache config
    const raw = JSON.parse((await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`])).stdout) as { mediaType: string; manifests?: unknown[] };
    expect(raw.mediaType).toBe('application/vnd.oci.image.index.v1+json');

    const second = await freshEngine();
    const b = await build(second, { context, tags: ['app:b'], cacheFrom: [parseCacheFrom(ref)] });
    expect(ran(b.events)).toEqual([]);
    expect(b.events.some((e) => e.type === 'vertex' && e.vertex.name === `importing cache manifest from ${ref}`)).toBe(true);
    // the layers of the result are fetched as a step of their own, with each blob's bytes
    const fetching = b.events.find((e) => e.type === 'vertex' && e.vertex.name.startsWith('importing cached layers of [stage-1 4/4]'));
    expect(fetching).toBeDefined();
    expect(b.events.some((e) => e.type === 'status' && fetching?.type === 'vertex' && e.vertex === fetching.vertex.id && e.completed)).toBe(true);
    expect(b.imageId).toBe(a.imageId);
    expect(await fileIn(second, 'app:b', '/final-at')).toBe(await fileIn(first, 'app:a', '/final-at'));
    // the base image was only resolved (its config), never pulled: every step came from the cache
    const names = b.events.flatMap((e) => (e.type === 'vertex' ? [e.vertex.name] : []));
    expect(names).toContain(`[internal] load metadata for ${base}`);
    expect(names).not.toContain(`[internal] pull ${base}`);
    expect(await second.images.get(base)).toBeUndefined();
    // lazy: only the result's layers were fetched; the builder stage's layer stayed in the registry
    const secondLayers = new Set((await second.images.resolve('app:b')).layers.map((l) => l.diffId));
    const builderChains: string[] = [];
    for await (const rec of first.cacheIndex.walk()) {
      const ids = ((rec.meta?.layers ?? []) as Array<{ diffId: Digest }>).map((l) => l.diffId);
      if (ids.some((d) => !secondLayers.has(d))) builderChains.push(chainIds(ids).at(-1)!);
    }
    expect(builderChains.length).toBeGreaterThan(0);
    for (const c of builderChains) expect(await second.snapshots.exists(c)).toBe(false);
    const finalChain = chainIds((await second.images.resolve('app:b')).layers.map((l) => l.diffId)).at(-1)!;
    expect(await second.snapshots.exists(finalChain)).toBe(true);
    // imported layers keep no tar of their own: a push makes it again from the snapshot, exactly
    await second.images.tag('app:b', `${reg.host}/pushed/from-cache:1`);
    await second.registries.push(`${reg.host}/pushed/from-cache:1`);
    const copied = await run('skopeo', ['copy', '-q', '--src-tls-verify=false', `docker://${reg.host}/pushed/from-cache:1`, `dir:${join(dir.path, `skopeo-${n++}`)}`]);
    expect(copied.code, copied.stderr).toBe(0);
    // a rebuild there hits its own cache now, without the import
    const c = await build(second, { context, tags: ['app:c'] });
    expect(ran(c.events)).toEqual([]);
    expect(c.imageId).toBe(a.imageId);
  }, 180_000);

  test('a changed file re-runs only what follows it; earlier steps come from the cache', async () => {
    const ref = `${reg.host}/cache/app:partial`;
    const first = await freshEngine();
    await build(first, { context: await ctxDir({ Dockerfile: twoStages(), 'app.txt': 'v1\n' }), cacheTo: [parseCacheTo(`type=registry,ref=${ref},mode=max,image-manifest=true`)] });
    const raw = JSON.parse((await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`])).stdout) as { mediaType: string; config: { mediaType: string } };
    expect(raw).toMatchObject({ mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.tbuild.cache.config.v1+json' } });
    const second = await freshEngine();
    const b = await build(second, { context: await ctxDir({ Dockerfile: twoStages(), 'app.txt': 'v2\n' }), tags: ['app:v2'], cacheFrom: [parseCacheFrom(`type=registry,ref=${ref}`)] });
    expect(ran(b.events).sort()).toEqual(['[stage-1 2/4] COPY app.txt /app.txt', '[stage-1 3/4] COPY --from=builder /built-at /built-at', '[stage-1 4/4] RUN od -An -N8 -tx1 /dev/urandom > /final-at'].sort());
    expect(await fileIn(second, 'app:v2', '/app.txt')).toBe('v2\n');
    // a step that runs needs the base's files: now it is pulled, as a step of its own
    expect(b.events.some((e) => e.type === 'vertex' && e.vertex.name === `[internal] pull ${base}` && e.vertex.completed && !e.vertex.error)).toBe(true);
    expect(await second.images.get(base)).toBeDefined();
  }, 180_000);

  test('mode=min exports only the final stage: the builder stage runs again elsewhere', async () => {
    const context = await ctxDir({ Dockerfile: twoStages(), 'app.txt': 'v1\n' });
    const ref = `${reg.host}/cache/app:min`;
    await build(await freshEngine(), { context, cacheTo: [parseCacheTo(`type=registry,ref=${ref}`)] });
    const b = await build(await freshEngine(), { context, cacheFrom: [parseCacheFrom(ref)] });
    // the final stage's steps are cached, so the builder stage is never needed
    expect(ran(b.events)).toEqual([]);
    const changed = await build(await freshEngine(), { context: await ctxDir({ Dockerfile: twoStages(), 'app.txt': 'v2\n' }), cacheFrom: [parseCacheFrom(ref)] });
    expect(ran(changed.events)).toContain('[builder 2/2] RUN od -An -N8 -tx1 /dev/urandom > /built-at && echo builder > /stage');
  }, 180_000);

  test('type=inline: the pushed image carries its cache; --cache-from IMAGE uses it', async () => {
    const context = await ctxDir({ Dockerfile: `FROM ${base}\nRUN od -An -N8 -tx1 /dev/urandom > /at\n` });
    const name = `${reg.host}/inline/app:1`;
    const first = await freshEngine();
    await build(first, { context, tags: [name], outputs: [{ type: 'image', push: true }], cacheTo: [parseCacheTo('type=inline')] });
    const second = await freshEngine();
    const b = await build(second, { context, tags: ['inline:b'], cacheFrom: [parseCacheFrom(name)] });
    expect(ran(b.events)).toEqual([]);
    expect(await fileIn(second, 'inline:b', '/at')).toBe(await fileIn(first, name, '/at'));
  }, 180_000);

  test('type=local: an OCI layout directory round trip, with cache mounts (cache-mounts=true)', async () => {
    const df = `FROM ${base}\nRUN --mount=type=cache,target=/cache,id=pkgs sh -c 'test -f /cache/seen || od -An -N8 -tx1 /dev/urandom > /cache/seen; cp /cache/seen /seen-copy; od -An -N8 -tx1 /dev/urandom > /at'\n`;
    const context = await ctxDir({ Dockerfile: df });
    const dest = join(dir.path, 'layout-cache');
    const first = await freshEngine();
    await build(first, { context, tags: ['local:a'], cacheTo: [parseCacheTo(`type=local,dest=${dest},mode=max,cache-mounts=true`)] });
    expect((await readdir(dest)).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
    const index = JSON.parse(await readFile(join(dest, 'index.json'), 'utf8')) as { manifests: Array<{ annotations: Record<string, string> }> };
    expect(index.manifests[0]!.annotations['org.opencontainers.image.ref.name']).toBe('latest');
    const seen = await fileIn(first, 'local:a', '/seen-copy');

    const second = await freshEngine();
    const b = await build(second, { context, tags: ['local:b'], cacheFrom: [parseCacheFrom(`type=local,src=${dest}`)] });
    expect(ran(b.events)).toEqual([]);
    expect(await fileIn(second, 'local:b', '/at')).toBe(await fileIn(first, 'local:a', '/at'));
    // the cache mount came along: a step that runs again there finds what the first machine left
    const third = await freshEngine();
    const changed = await build(third, { context, tags: ['local:c'], noCache: true, cacheFrom: [parseCacheFrom(`type=local,src=${dest}`)] });
    expect(ran(changed.events).length).toBe(1);
    expect(await fileIn(third, 'local:c', '/seen-copy')).toBe(seen);
  }, 180_000);

  test('a cache blob whose bytes were changed: the step runs instead, with a warning, and nothing half-applied stays', async () => {
    const context = await ctxDir({ Dockerfile: `FROM ${base}\nRUN od -An -N8 -tx1 /dev/urandom > /at\n` });
    const dest = join(dir.path, 'tampered-cache');
    await build(await freshEngine(), { context, cacheTo: [parseCacheTo(`type=local,dest=${dest},mode=max`)] });
    const blobs = join(dest, 'blobs', 'sha256');
    const manifestDigest = (JSON.parse(await readFile(join(dest, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> }).manifests[0]!.digest;
    const read = async (d: string) => JSON.parse(await readFile(join(blobs, d.slice(7)), 'utf8')) as { layers: Array<{ digest: string }>; manifests?: Array<{ digest: string }> };
    const topLevel = await read(manifestDigest);
    // image-manifest=false (the default): an index holding the cache manifest
    const manifest = topLevel.manifests ? await read(topLevel.manifests[0]!.digest) : topLevel;
    const top = manifest.layers.at(-1)!.digest.slice(7);
    const bytes = await readFile(join(blobs, top));
    bytes[bytes.length - 10] ^= 0xff;
    await writeFile(join(blobs, top), bytes);
    const fresh = await freshEngine();
    const b = await build(fresh, { context, cacheFrom: [parseCacheFrom(`type=local,src=${dest}`)] });
    expect(ran(b.events)).toEqual(['[2/2] RUN od -An -N8 -tx1 /dev/urandom > /at']);
    const warnings = b.events.flatMap((e) => (e.type === 'warning' ? [e.message] : []));
    expect(warnings.some((m) => /imported cache for .* is unusable \(.*sha256:/.test(m)), warnings.join('\n')).toBe(true);
    for await (const snap of fresh.snapshots.walk()) expect(snap.kind, JSON.stringify(snap)).toBe('committed');
  }, 120_000);

  test('a cache that does not exist is a warning, not a failure; a bad spec names the attribute', async () => {
    const context = await ctxDir({ Dockerfile: `FROM ${base}\nRUN true\n` });
    const b = await build(await freshEngine(), { context, cacheFrom: [parseCacheFrom(`${reg.host}/cache/none:missing`)] });
    expect(b.events.some((e) => e.type === 'warning' && /cache import from .*none:missing skipped: .*not found/i.test(e.message))).toBe(true);
    // an export that cannot reach its registry fails the build naming it, unless ignore-error=true
    const { freePort } = await import('../support/certs.js');
    const dead = `127.0.0.1:${await freePort()}`;
    const engine = await freshEngine();
    await expect(build(engine, { context, cacheTo: [parseCacheTo(`type=registry,ref=${dead}/c/x:1`)] })).rejects.toThrow(new RegExp(dead.replace(/\./g, '\\.')));
    const ignored = await build(engine, { context, cacheTo: [parseCacheTo(`type=registry,ref=${dead}/c/x:1,ignore-error=true`)] });
    expect(ignored.events.some((e) => e.type === 'warning' && e.message.includes(`cache export to ${dead}/c/x:1 failed (ignore-error=true)`))).toBe(true);
    expect(() => parseCacheTo('type=registry,ref=x,compression-level=3')).toThrow(/compression-level/);
    expect(() => parseCacheTo('type=gha')).toThrow(/gha/);
    expect(() => parseCacheTo('type=registry,ref=x,mode=all')).toThrow(/mode=all/);
    expect(() => parseCacheFrom('type=local')).toThrow(/src=/);
  }, 120_000);
});
