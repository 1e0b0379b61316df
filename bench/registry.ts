/**
 * Registry figures: push and pull of a 5-layer, ~200 MB image against a fresh local docker-registry
 * per run, tbuild beside skopeo doing the same transfer in the same run. skopeo's push reads a
 * docker-archive and gzips it, as tbuild's push gzips stored layers; skopeo's pull writes the
 * compressed blobs to a `dir:` (it does not unpack), while tbuild's pull also decompresses and
 * applies each layer as a snapshot, so that ratio favours skopeo.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { layerBody } from './layer-body.js';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pack } from 'tar-stream';
import { openEngineParts } from '../src/engine.js';
import { importLayers } from '../src/images/layers.js';
import { saveDockerArchive } from '../src/images/docker-archive.js';
import { Registry } from '../src/registry/client.js';
import { pullImage } from '../src/registry/pull.js';
import { pushImage } from '../src/registry/push.js';
import { run, startRegistry } from '../test/support/registry.js';
import { median, type BenchRow } from './types.js';

const LAYERS = 5;
const LAYER_MB = 40;

/** One layer: a file of half random (incompressible) and half repetitive (compressible) bytes. */
function layerTar(i: number): Readable {
  const p = pack();
  const size = LAYER_MB * 1024 * 1024;
  p.entry({ name: `data-${i}.bin`, size, mode: 0o644, mtime: new Date(1_700_000_000_000) }, layerBody(i, size));
  p.finalize();
  return p as unknown as Readable;
}

async function seconds(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

export async function bench(): Promise<BenchRow[]> {
  const base = await mkdtemp('/tmp/tbbench-reg-');
  try {
    const parts = await openEngineParts({ root: join(base, 'src-root') });
    const layers = await importLayers(parts, Array.from({ length: LAYERS }, (_, i) => ({ open: () => layerTar(i) })));
    const name = 'bench/big:1';
    await parts.images.create({
      config: { os: 'linux', architecture: 'amd64', config: {}, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) } },
      layers,
      names: [name],
    });
    const archive = join(base, 'big.docker.tar');
    await pipeline(await saveDockerArchive(parts, [name]), createWriteStream(archive));

    const RUNS = 3;
    const push: number[] = [];
    const pull: number[] = [];
    const skPush: number[] = [];
    const skPull: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      // tbuild: push into a fresh registry (no compressed forms remembered), pull into a fresh root.
      const reg = await startRegistry('plain');
      const client = new Registry({});
      try {
        await rm(join(parts.root, 'registry'), { recursive: true, force: true });
        const ref = `${reg.host}/bench/big:1`;
        await parts.images.tag(name, ref);
        push.push(await seconds(() => pushImage(parts, client, ref)));
        const fresh = await openEngineParts({ root: join(base, `pull-root-${i}`) });
        pull.push(await seconds(() => pullImage(fresh, client, ref)));
      } finally {
        await client.close();
        await reg.stop();
      }
      // skopeo: the same image from the docker-archive into a fresh registry, and back to a dir.
      const reg2 = await startRegistry('plain');
      try {
        const ref = `docker://${reg2.host}/bench/big:1`;
        skPush.push(await seconds(async () => {
          const r = await run('skopeo', ['copy', '-q', '--dest-tls-verify=false', `docker-archive:${archive}`, ref]);
          if (r.code !== 0) throw new Error(r.stderr);
        }));
        skPull.push(await seconds(async () => {
          const r = await run('skopeo', ['copy', '-q', '--src-tls-verify=false', ref, `dir:${join(base, `skopeo-dir-${i}`)}`]);
          if (r.code !== 0) throw new Error(r.stderr);
        }));
      } finally {
        await reg2.stop();
      }
    }
    const mb = (LAYERS * LAYER_MB * 1.048576).toFixed(0);
    const row = (nm: string, ours: number[], theirs: number[], what: string): BenchRow => {
      const a = median(ours);
      const b = median(theirs);
      return { area: 'registry', name: nm, value: a, unit: 's', target: '<= 1.0x skopeo', met: a <= b, note: `skopeo ${what} ${b.toFixed(2)} s, ratio ${(a / b).toFixed(2)}; ${LAYERS} layers, ${mb} MB; median of ${RUNS}` };
    };
    const { remoteCacheRows } = await import('./remote-cache.js');
    return [row('push', push, skPush, 'copy docker-archive → registry'), row('pull', pull, skPull, 'copy registry → dir (no unpack)'), ...(await remoteCacheRows())];
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}
