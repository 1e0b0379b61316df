import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { isRoot, mountsUnder, tempDir } from '../support/tmp.js';
import { BUSYBOX_TAR } from '../support/cli.js';
import { ensureForeignBusyboxArchive } from '../support/busybox-image.js';
import { startRegistry } from '../support/registry.js';
import { Engine } from '../../src/engine.js';
import { isTbuildError } from '../../src/errors.js';
import type { ProgressEvent } from '../../src/build/types.js';
import { parseCacheFrom, parseCacheTo } from '../../src/remotecache/spec.js';

/**
 * `--platform linux/amd64,linux/arm64`: one build per platform (arm64's RUN under qemu-user-static),
 * one result listing both — an OCI index, a pushed manifest list, a directory per platform.
 */
describe.runIf(isRoot)('multi-platform builds', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let engine: Engine;
  let context: string;
  const PLATFORMS = 'linux/amd64,linux/arm64';

  beforeAll(async () => {
    tmp = await tempDir('tb-multi-');
    engine = await Engine.open({ root: join(tmp.path, 'root') });
    await engine.load(createReadStream(BUSYBOX_TAR));
    await engine.load(createReadStream(await ensureForeignBusyboxArchive()));
    await engine.images.tag('busybox:local', 'busybox:amd64');
    context = join(tmp.path, 'ctx');
    await mkdir(context);
    // the base per platform, as a Dockerfile for several platforms names it
    await writeFile(join(context, 'Dockerfile'), 'ARG TARGETARCH\nFROM busybox:$TARGETARCH\nARG TARGETPLATFORM\nRUN uname -m > /m && echo "$TARGETPLATFORM" > /p\n');
  }, 180_000);

  afterAll(async () => {
    await engine?.close();
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  });

  test('-o type=local and -o type=tar: a directory per platform, each built for its CPU; steps are named with their platform', async () => {
    const out = join(tmp.path, 'local');
    const events: ProgressEvent[] = [];
    const before = (await engine.images.list()).length;
    await engine.build({ context, platform: PLATFORMS, network: 'none', outputs: [{ type: 'local', dest: out }], onProgress: (e) => events.push(e) });
    expect(await readFile(join(out, 'linux_amd64', 'm'), 'utf8')).toBe('x86_64\n');
    expect(await readFile(join(out, 'linux_arm64', 'm'), 'utf8')).toBe('aarch64\n');
    expect(await readFile(join(out, 'linux_arm64', 'p'), 'utf8')).toBe('linux/arm64\n');
    const names = new Set(events.flatMap((e) => (e.type === 'vertex' ? [e.vertex.name] : [])));
    expect(names).toContain('[linux/arm64 2/2] RUN uname -m > /m && echo "$TARGETPLATFORM" > /p');
    expect(names).toContain('[linux/amd64 1/2] FROM docker.io/library/busybox:amd64');
    // nothing is left in the image store
    expect((await engine.images.list()).length).toBe(before);
    // -o type=tar: the same directories in one tarball
    const tar = join(tmp.path, 'multi.tar');
    await engine.build({ context, platform: PLATFORMS, network: 'none', outputs: [{ type: 'tar', dest: tar }] });
    const listed = execFileSync('tar', ['-tf', tar]).toString().split('\n');
    expect(listed).toEqual(expect.arrayContaining(['linux_amd64/m', 'linux_arm64/m']));
    expect(execFileSync('tar', ['-xOf', tar, 'linux_arm64/m']).toString()).toBe('aarch64\n');
  }, 180_000);

  test('-o type=oci: an OCI index listing both platforms\' manifests under the name', async () => {
    const tar = join(tmp.path, 'multi.oci.tar');
    const res = await engine.build({ context, platform: PLATFORMS, network: 'none', tags: ['multi:oci'], outputs: [{ type: 'oci', dest: tar }] });
    const dir = join(tmp.path, 'oci');
    await mkdir(dir);
    execFileSync('tar', ['-xf', tar, '-C', dir]);
    const blob = async (d: string) => JSON.parse(await readFile(join(dir, 'blobs', 'sha256', d.slice(7)), 'utf8'));
    const top = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
    expect(top.manifests).toHaveLength(1);
    expect(top.manifests[0]).toMatchObject({ mediaType: 'application/vnd.oci.image.index.v1+json', digest: res.digest, annotations: { 'io.containerd.image.name': 'docker.io/library/multi:oci' } });
    const index = await blob(res.digest);
    expect(index.manifests.map((m: { platform: { architecture: string } }) => m.platform.architecture)).toEqual(['amd64', 'arm64']);
    for (const m of index.manifests) {
      const manifest = await blob(m.digest);
      expect((await blob(manifest.config.digest)).architecture).toBe(m.platform.architecture);
    }
  }, 180_000);

  test('--push: a manifest list in the registry, each platform pulled back by another client', async () => {
    const reg = await startRegistry('plain');
    try {
      const name = `${reg.host}/multi/app:1`;
      const res = await engine.build({ context, platform: PLATFORMS, network: 'none', tags: [name], outputs: [{ type: 'image', push: true }] });
      const raw = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${name}`]).toString());
      expect(raw.mediaType).toBe('application/vnd.docker.distribution.manifest.list.v2+json');
      expect(raw.manifests.map((m: { platform: { os: string; architecture: string } }) => `${m.platform.os}/${m.platform.architecture}`)).toEqual(['linux/amd64', 'linux/arm64']);
      expect(res.digest).toMatch(/^sha256:/);
      const arm = JSON.parse(execFileSync('skopeo', ['inspect', '--override-arch', 'arm64', '--tls-verify=false', `docker://${name}`]).toString());
      expect(arm.Architecture).toBe('arm64');
    } finally {
      await reg.stop();
    }
  }, 180_000);

  test('--cache-to exports every platform\'s records in one cache; --cache-from gives a fresh root each platform\'s steps', async () => {
    const cache = join(tmp.path, 'cache-both');
    const dir = join(tmp.path, 'ctx-cache');
    await mkdir(dir);
    await writeFile(join(dir, 'Dockerfile'), 'ARG TARGETARCH\nFROM busybox:$TARGETARCH\nRUN od -An -N8 -tx1 /dev/urandom > /r\n');
    const events: ProgressEvent[] = [];
    await engine.build({ context: dir, platform: PLATFORMS, network: 'none', noCache: true, outputs: [{ type: 'local', dest: join(tmp.path, 'first') }], cacheTo: [parseCacheTo(`type=local,dest=${cache},mode=max`)], onProgress: (e) => events.push(e) });
    // one export, not one per platform
    expect(events.filter((e) => e.type === 'vertex' && e.vertex.name === 'exporting cache to client directory' && e.vertex.completed).length).toBe(1);
    const fresh = await Engine.open({ root: join(tmp.path, 'fresh-root') });
    try {
      await fresh.load(createReadStream(BUSYBOX_TAR));
      await fresh.load(createReadStream(await ensureForeignBusyboxArchive()));
      await fresh.images.tag('busybox:local', 'busybox:amd64');
      const again: ProgressEvent[] = [];
      await fresh.build({ context: dir, platform: PLATFORMS, network: 'none', outputs: [{ type: 'local', dest: join(tmp.path, 'both') }], cacheFrom: [parseCacheFrom(`type=local,src=${cache}`)], onProgress: (e) => again.push(e) });
      const cached = (name: string) => again.some((e) => e.type === 'vertex' && e.vertex.name.startsWith(name) && e.vertex.cached);
      expect(cached('[linux/arm64 2/2] RUN')).toBe(true);
      expect(cached('[linux/amd64 2/2] RUN')).toBe(true);
      for (const p of ['linux_amd64', 'linux_arm64']) expect(await readFile(join(tmp.path, 'both', p, 'r'), 'utf8')).toBe(await readFile(join(tmp.path, 'first', p, 'r'), 'utf8'));
    } finally {
      await fresh.close();
    }
  }, 180_000);

  test('a step failing on one platform fails the build with its own error; nothing is left in the store', async () => {
    const dir = join(tmp.path, 'ctx-fail');
    await mkdir(dir);
    await writeFile(join(dir, 'Dockerfile'), 'ARG TARGETARCH\nFROM busybox:$TARGETARCH\nARG TARGETARCH\nRUN test "$TARGETARCH" = amd64\n');
    const before = (await engine.images.list()).length;
    const err = await engine.build({ context: dir, platform: PLATFORMS, network: 'none', outputs: [{ type: 'oci', dest: join(tmp.path, 'fail.tar') }] }).catch((e: unknown) => e);
    expect(isTbuildError(err, 'TB_BUILD_CANCELLED'), String(err)).toBe(false);
    expect((err as Error).message).toMatch(/exit code: 1/);
    expect((err as { range?: { startLine: number } }).range?.startLine).toBe(4);
    expect((await engine.images.list()).length).toBe(before);
  }, 180_000);

  test('a platform that stored its image and waits for the merged cache export leaves nothing when another platform fails', async () => {
    const dir = join(tmp.path, 'ctx-fail-late');
    await mkdir(dir);
    // amd64 finishes, stores its image and waits for arm64's records; arm64 then fails
    await writeFile(join(dir, 'Dockerfile'), 'ARG TARGETARCH\nFROM busybox:$TARGETARCH\nARG TARGETARCH\nRUN if [ "$TARGETARCH" = arm64 ]; then sleep 3; exit 1; fi; echo ok > /ok\n');
    const before = (await engine.images.list()).map((i) => i.id).sort();
    const events: ProgressEvent[] = [];
    const err = await engine.build({
      context: dir, platform: PLATFORMS, network: 'none', noCache: true,
      outputs: [{ type: 'oci', dest: join(tmp.path, 'fail-late.tar') }],
      cacheTo: [parseCacheTo(`type=local,dest=${join(tmp.path, 'cache-fail-late')},mode=max`)],
      onProgress: (e) => events.push(e),
    }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/exit code: 1/);
    expect(events.some((e) => e.type === 'vertex' && e.vertex.name === 'exporting to image' && e.vertex.completed), 'amd64 stored its image first').toBe(true);
    expect((await engine.images.list()).map((i) => i.id).sort()).toEqual(before);
  }, 180_000);

  test('what cannot hold several platforms is refused by name, before anything runs', async () => {
    const cases: Array<[Parameters<Engine['build']>[0], RegExp]> = [
      [{ context, platform: PLATFORMS, tags: ['multi:store'] }, /the image store keeps one platform per name: push the result/],
      [{ context, platform: PLATFORMS, outputs: [{ type: 'docker', dest: join(tmp.path, 'd.tar') }] }, /-o type=docker writes one image per name/],
    ];
    for (const [opts, message] of cases) {
      const err = await engine.build({ network: 'none', ...opts }).catch((e: unknown) => e);
      expect(isTbuildError(err, 'TB_INVALID_ARGUMENT'), String(err)).toBe(true);
      expect((err as Error).message).toMatch(message);
    }
  });
});
