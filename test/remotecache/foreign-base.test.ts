import { expect, test } from 'vitest';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { mountsUnder, tempDir } from '../support/tmp.js';
import { run } from '../support/registry.js';
import { PROJECT_ROOT } from '../support/cli.js';
import { Engine } from '../../src/engine.js';
import { parseCacheFrom, parseCacheTo } from '../../src/remotecache/spec.js';
import { sha256 } from '../../src/util/digest.js';
import type { ProgressEvent } from '../../src/build/types.js';

/**
 * A base image loaded from an archive another tool made (its layer written by GNU tar, which
 * tbuild's tar writer would not reproduce byte for byte), then a cache imported on top of it: the
 * base layer is reused from the store, its size taken from the tar kept for it, never from a tar
 * made again from its snapshot (that one hashes differently, and the import failed).
 */
test('a cache imported onto a base loaded from a foreign archive reuses the base and runs nothing', async () => {
  const dir = await tempDir('tb-rcforeign-');
  const engines: Engine[] = [];
  try {
    const rootfs = join(dir.path, 'rootfs.tar');
    const made = await run('bash', [join(PROJECT_ROOT, 'scripts', 'make-busybox-rootfs.sh'), rootfs]);
    expect(made.code).toBe(0);
    const layer = await readFile(rootfs);
    const diffId = sha256(layer);
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/sh'] }, rootfs: { type: 'layers', diff_ids: [diffId] } }));
    const archive = join(dir.path, 'foreign.tar');
    const pack = tar.pack();
    const written = pipeline(pack, createWriteStream(archive));
    pack.entry({ name: `${diffId.slice(7)}/layer.tar` }, layer);
    pack.entry({ name: `${sha256(config).slice(7)}.json` }, config);
    pack.entry({ name: 'manifest.json' }, JSON.stringify([{ Config: `${sha256(config).slice(7)}.json`, RepoTags: ['foreign/base:1'], Layers: [`${diffId.slice(7)}/layer.tar`] }]));
    pack.finalize();
    await written;

    const context = join(dir.path, 'ctx');
    await mkdir(context);
    await writeFile(join(context, 'Dockerfile'), 'FROM foreign/base:1\nRUN od -An -N8 -tx1 /dev/urandom > /at\n');
    const dest = join(dir.path, 'cache');
    const open = async (name: string) => {
      const e = await Engine.open({ root: join(dir.path, name) });
      engines.push(e);
      await e.load(createReadStream(archive));
      return e;
    };
    const first = await open('a');
    await first.build({ context, tags: ['app:a'], cacheTo: [parseCacheTo(`type=local,dest=${dest},mode=max`)] });

    const second = await open('b');
    const events: ProgressEvent[] = [];
    await second.build({ context, tags: ['app:b'], cacheFrom: [parseCacheFrom(`type=local,src=${dest}`)], onProgress: (e) => events.push(e) });
    const ran = events.filter((e) => e.type === 'vertex' && e.vertex.completed && !e.vertex.cached && /^\[.*\] RUN/.test(e.vertex.name));
    expect(ran).toEqual([]);
    const errors = events.filter((e) => e.type === 'vertex' && e.vertex.error);
    expect(errors).toEqual([]);
    const a = await first.images.resolve('app:a');
    const b = await second.images.resolve('app:b');
    expect(b.layers.map((l) => [l.diffId, l.size])).toEqual(a.layers.map((l) => [l.diffId, l.size]));
    expect(b.layers[0]!.size).toBe(layer.length);
  } finally {
    for (const e of engines) await e.close().catch(() => {});
    expect(await mountsUnder(dir.path)).toEqual([]);
    await dir.cleanup();
  }
}, 180_000);
