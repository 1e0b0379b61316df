import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { mountsUnder, tempDir } from '../support/tmp.js';
import { runCli } from '../support/cli.js';
import { ensureForeignBusyboxArchive } from '../support/busybox-image.js';
import { makeTestArchive, run, startRegistry, type TestRegistry } from '../support/registry.js';
import { Engine } from '../../src/engine.js';
import { parseOutput } from '../../src/cli/commands/build.js';
import type { ProgressEvent } from '../../src/build/types.js';

/** Builds that meet registries: FROM pulls what is missing, --pull refreshes, push outputs push. */

let dir: { path: string; cleanup: () => Promise<void> };
let reg: TestRegistry;
let engine: Engine;
let n = 0;

async function ctxDir(files: Record<string, string>): Promise<string> {
  const d = join(dir.path, `ctx-${n++}`);
  await mkdir(d, { recursive: true });
  for (const [k, v] of Object.entries(files)) await writeFile(join(d, k), v);
  return d;
}

const skopeoInspect = (ref: string) => run('skopeo', ['inspect', '--tls-verify=false', `docker://${ref}`]);

beforeAll(async () => {
  dir = await tempDir('tb-regb-');
  const archive = await makeTestArchive(dir.path);
  reg = await startRegistry('plain');
  const copied = await run('skopeo', ['copy', '-q', ...reg.skopeoFlags('dest'), `docker-archive:${archive.file}`, `docker://${reg.host}/test/busybox:1`]);
  expect(copied.stderr).toBe('');
  const dockerConfig = join(dir.path, 'docker-config');
  await mkdir(dockerConfig);
  engine = await Engine.open({ root: join(dir.path, 'root'), registry: { certsDir: reg.certsDir, insecure: [] } });
}, 120_000);
afterAll(async () => {
  await engine?.close();
  await reg?.stop();
  if (dir) {
    expect(await mountsUnder(dir.path)).toEqual([]);
    await dir.cleanup();
  }
});

describe('builds with registries', () => {
  test('FROM an image that is not stored pulls it (shown as a step), then --push pushes the result', async () => {
    const base = `${reg.host}/test/busybox:1`;
    const events: ProgressEvent[] = [];
    const context = await ctxDir({ Dockerfile: `FROM ${base}\nRUN cat /hello.txt > /copy.txt\n` });
    const name = `${reg.host}/built/app:1`;
    const res = await engine.build({ context, tags: [name], outputs: [{ type: 'image', push: true }], onProgress: (e) => events.push(e) });
    const names = events.flatMap((e) => (e.type === 'vertex' ? [e.vertex.name] : []));
    expect(names).toContain(`[internal] pull ${base}`);
    expect(names).toContain(`pushing ${name} with docker`);
    expect(events.some((e) => e.type === 'status' && e.total !== undefined)).toBe(true);
    expect(await engine.images.get(base)).toBeDefined();
    const inspected = await skopeoInspect(name);
    expect(inspected.stderr).toBe('');
    expect(JSON.parse(inspected.stdout)).toMatchObject({ Layers: [expect.any(String), expect.any(String), expect.any(String)] });
    expect(res.image?.repoDigests ?? (await engine.images.resolve(name)).repoDigests).toBeDefined();
    expect((await engine.images.resolve(name)).repoDigests[0]).toMatch(new RegExp(`^${reg.host}/built/app@sha256:`));
  });

  test('--pull fetches a newer base even when one is stored', async () => {
    const base = `${reg.host}/test/moving:1`;
    await run('skopeo', ['copy', '-q', ...reg.skopeoFlags('src'), ...reg.skopeoFlags('dest'), `docker://${reg.host}/test/busybox:1`, `docker://${base}`]);
    const first = await engine.registries.pull(base);
    // Move the tag to another image: one built here and pushed under that name.
    const moved = await engine.build({ context: await ctxDir({ Dockerfile: `FROM ${base}\nRUN echo moved > /moved\n` }), tags: [`${reg.host}/test/other:1`] });
    await engine.registries.push(base, { image: moved.imageId });
    const context = await ctxDir({ Dockerfile: `FROM ${base}\nRUN cat /moved 2>/dev/null || echo none\n` });
    const stale = await engine.build({ context });
    expect(stale.image?.layers[1]?.diffId).toBe(first.image.layers[1]!.diffId);
    const fresh = await engine.build({ context, pull: true });
    expect(fresh.image?.layers.map((l) => l.diffId).slice(0, 3)).toEqual(moved.image?.layers.map((l) => l.diffId));
  });

  test('output attributes not carried out are refused; a push without a name is an error', async () => {
    expect(parseOutput('type=registry,name=r/x:1')).toEqual({ type: 'image', names: ['r/x:1'], push: true });
    expect(parseOutput('type=image,name=r/x:1,push=true')).toEqual({ type: 'image', names: ['r/x:1'], push: true });
    expect(() => parseOutput('type=image,name=r/x:1,compression=zstd')).toThrow(/"compression" is not supported/);
    expect(() => parseOutput('type=registry,name=r/x:1,push=maybe')).toThrow(/push=maybe/);
    const context = await ctxDir({ Dockerfile: `FROM ${reg.host}/test/busybox:1\n` });
    await expect(engine.build({ context, outputs: [{ type: 'image', push: true }] })).rejects.toMatchObject({ code: 'TB_INVALID_ARGUMENT', message: expect.stringContaining('push needs a name') });
  });

  test('tbuild build --output type=registry pushes (CLI)', async () => {
    const context = await ctxDir({ Dockerfile: `FROM ${reg.host}/test/busybox:1\nRUN echo cli > /cli.txt\n` });
    const name = `${reg.host}/built/cli:2`;
    const res = await runCli(['build', '--progress', 'plain', '--output', `type=registry,name=${name}`, context], {
      root: join(dir.path, 'cli-root'),
      env: { DOCKER_CONFIG: join(dir.path, 'docker-config'), TBUILD_HOST: '' },
    });
    expect(res.code).toBe(0);
    expect(res.stderr).toContain(`pushing ${name} with docker`);
    expect((await skopeoInspect(name)).stderr).toBe('');
  });

  test('--annotation: the pushed manifest carries it, type=oci puts it on the manifest and its descriptor, tbuild push later keeps it, a rebuild without it drops it', async () => {
    const context = await ctxDir({ Dockerfile: `FROM ${reg.host}/test/busybox:1\nRUN echo annotated > /a.txt\n` });
    const name = `${reg.host}/built/annotated:1`;
    const raw = async (ref: string) => JSON.parse((await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`])).stdout) as { annotations?: Record<string, string> };
    const res = await runCli(
      ['build', '--progress', 'plain', '--push', '-t', name, '--annotation', 'org.opencontainers.image.title=Annotated', '--annotation', 'manifest[linux/amd64]:com.example.arch=x86', context],
      { root: join(dir.path, 'ann-root'), env: { DOCKER_CONFIG: join(dir.path, 'docker-config'), TBUILD_HOST: '' } },
    );
    expect(res.stderr).not.toContain('rror');
    expect(res.code).toBe(0);
    expect((await raw(name)).annotations).toEqual({ 'org.opencontainers.image.title': 'Annotated', 'com.example.arch': 'x86' });
    // the stored image keeps them: a later push elsewhere sends the same manifest
    const again = await runCli(['push', name.replace(':1', ':2')], { root: join(dir.path, 'ann-root'), env: { DOCKER_CONFIG: join(dir.path, 'docker-config'), TBUILD_HOST: '' } });
    expect(again.code).not.toBe(0); // no such name yet
    expect((await runCli(['tag', name, name.replace(':1', ':2')], { root: join(dir.path, 'ann-root') })).code).toBe(0);
    expect((await runCli(['push', name.replace(':1', ':2')], { root: join(dir.path, 'ann-root'), env: { DOCKER_CONFIG: join(dir.path, 'docker-config'), TBUILD_HOST: '' } })).code).toBe(0);
    expect((await raw(name.replace(':1', ':2'))).annotations).toEqual({ 'org.opencontainers.image.title': 'Annotated', 'com.example.arch': 'x86' });

    // type=oci: on the manifest blob, and (manifest-descriptor) on its entry in index.json
    const tarFile = join(dir.path, 'annotated-oci.tar');
    const oci = await engine.build({
      context,
      outputs: [{ type: 'oci', dest: tarFile, annotations: [{ type: 'manifest', key: 'k', value: 'on-manifest' }] }],
      annotations: [{ type: 'manifest-descriptor', key: 'd', value: 'on-descriptor' }],
    });
    const index = JSON.parse(execFileSync('tar', ['-xOf', tarFile, 'index.json']).toString()) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
    expect(index.manifests[0]!.annotations).toEqual({ d: 'on-descriptor' });
    const manifest = JSON.parse(execFileSync('tar', ['-xOf', tarFile, `blobs/sha256/${index.manifests[0]!.digest.slice(7)}`]).toString()) as { annotations?: Record<string, string> };
    expect(manifest.annotations).toEqual({ k: 'on-manifest' });
    expect(oci.digest).toBe(index.manifests[0]!.digest);

    // stored with the image: an OCI-layout save loads back with them, in another root
    const kept = await engine.build({ context, tags: ['annotated:kept'], annotations: [{ type: 'manifest', key: 'z', value: '1' }, { type: 'manifest', key: 'a', value: '2' }] });
    expect(kept.image?.annotations).toEqual({ z: '1', a: '2' });
    const other = await Engine.open({ root: join(dir.path, 'ann-other') });
    try {
      await other.load(await engine.save(['annotated:kept'], 'oci'));
      expect((await other.images.resolve('annotated:kept')).annotations).toEqual({ a: '2', z: '1' });
      // and so does a docker save (Docker 25's layout: manifest.json beside an OCI index)
      await other.images.remove('annotated:kept', { force: true });
      await other.load(await engine.save(['annotated:kept']));
      expect((await other.images.resolve('annotated:kept')).annotations).toEqual({ a: '2', z: '1' });
    } finally {
      await other.close();
    }
    // the same annotations in another order are the same manifest, and the build says so
    const reordered = await engine.build({ context, tags: ['annotated:kept'], annotations: [{ type: 'manifest', key: 'a', value: '2' }, { type: 'manifest', key: 'z', value: '1' }] });
    expect(reordered.digest).toBe(kept.digest);

    // a build that asks for none makes an image whose manifest has none
    const plain = await engine.build({ context, tags: [`${reg.host}/built/annotated:3`], outputs: [{ type: 'image', push: true }] });
    expect(plain.image?.annotations).toBeUndefined();
    expect((await raw(`${reg.host}/built/annotated:3`)).annotations).toBeUndefined();
  });

  test('--annotation for a place a single-platform build does not make is refused before any step runs', async () => {
    const context = await ctxDir({ Dockerfile: `FROM ${reg.host}/test/busybox:1\nRUN exit 9\n` });
    await expect(engine.build({ context, annotations: [{ type: 'index', key: 'k', value: 'v' }] })).rejects.toMatchObject({ code: 'TB_INVALID_ARGUMENT', message: expect.stringContaining('index annotations not supported for single platform export') });
    await expect(engine.build({ context, annotations: [{ type: 'manifest', platform: 'linux/arm64', key: 'k', value: 'v' }] })).rejects.toMatchObject({ message: expect.stringContaining('no platform linux/arm64 found in source') });
    await expect(engine.build({ context, annotations: [{ type: 'manifest-descriptor', key: 'k', value: 'v' }] })).rejects.toMatchObject({ message: expect.stringContaining('oci-mediatypes=false') });
    await expect(engine.build({ context, outputs: [{ type: 'local', dest: join(dir.path, 'ann-local') }], annotations: [{ type: 'manifest', key: 'k', value: 'v' }] })).rejects.toMatchObject({ message: expect.stringContaining('annotations need an output with a manifest') });
  });
  test('FROM --platform of a name stored for another platform takes that platform from the registry, and the stored name keeps its image', async () => {
    const name = `${reg.host}/test/plat:1`;
    await engine.load(createReadStream(await ensureForeignBusyboxArchive()));
    const arm = await engine.images.resolve('busybox:arm64');
    await engine.registries.push(name, { image: arm.id });
    // the same name here holds the amd64 image
    const amd = await engine.registries.pull(`${reg.host}/test/busybox:1`);
    await engine.images.tag(amd.image.id, name);
    await engine.images.remove('busybox:arm64');
    const events: ProgressEvent[] = [];
    const out = join(dir.path, 'plat-out');
    const res = await engine.build({
      context: await ctxDir({ Dockerfile: `FROM --platform=linux/arm64 ${name}\nRUN uname -m > /m\n` }),
      network: 'none',
      outputs: [{ type: 'image' }, { type: 'local', dest: out }],
      onProgress: (e) => events.push(e),
    });
    expect(await readFile(join(out, 'm'), 'utf8')).toBe('aarch64\n');
    expect(res.image?.config.architecture).toBe('arm64');
    expect(events.flatMap((e) => (e.type === 'vertex' ? [e.vertex.name] : []))).toContain(`[linux/arm64 internal] load metadata for ${name}`);
    expect((await engine.images.resolve(name)).id).toBe(amd.image.id);
  }, 180_000);
});
