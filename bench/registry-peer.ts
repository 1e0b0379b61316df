/**
 * Push and pull of a 5-layer, ~200 MB image side by side with dockerd 26 (#11's comparison): the
 * same Docker CLI drives `tbuild daemon` and the dockerd of ../shared/bench/setup-peers.sh, each
 * pushing into a fresh docker-registry, then forgetting the image and pulling it back. Layers are
 * half random, half text, as in `npm run bench -- registry`.
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { layerBody } from './layer-body.js';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pipeline } from 'node:stream/promises';
import { pack } from 'tar-stream';
import { startRegistry } from '../test/support/registry.js';
import { median, type BenchRow } from './types.js';
import { startDaemon } from './daemon.js';

const here = dirname(fileURLToPath(import.meta.url));
const PEERS = join(here, '..', '..', 'shared', 'bench', 'setup-peers.sh');
const PEER = '/opt/peer-docker26';
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const LAYERS = 5;
const LAYER_MB = 40;

/** A docker-archive of `name` with LAYERS layers, written by hand: no engine takes part in making it. */
async function writeArchive(file: string, name: string): Promise<void> {
  const p = pack();
  const out = pipeline(p, createWriteStream(file));
  const { createHash } = await import('node:crypto');
  const diffIds: string[] = [];
  const layerFiles: string[] = [];
  for (let i = 0; i < LAYERS; i++) {
    const size = LAYER_MB * 1024 * 1024;
    const body = layerBody(i, size);
    const inner = pack();
    inner.entry({ name: `data-${i}.bin`, size, mode: 0o644, mtime: new Date(1_700_000_000_000) }, body);
    inner.finalize();
    const chunks: Buffer[] = [];
    for await (const c of inner as AsyncIterable<Buffer>) chunks.push(c);
    const tar = Buffer.concat(chunks);
    const digest = createHash('sha256').update(tar).digest('hex');
    diffIds.push(`sha256:${digest}`);
    layerFiles.push(`${digest}/layer.tar`);
    p.entry({ name: `${digest}/layer.tar`, size: tar.length }, tar);
  }
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: diffIds } }));
  const configName = `${createHash('sha256').update(config).digest('hex')}.json`;
  p.entry({ name: configName }, config);
  p.entry({ name: 'manifest.json' }, Buffer.from(JSON.stringify([{ Config: configName, RepoTags: [name], Layers: layerFiles }])));
  p.finalize();
  await out;
}

export async function bench(): Promise<BenchRow[]> {
  if (!existsSync(PEERS) || !existsSync(join(PEER, 'usr/bin/docker'))) return [{ area: 'registry', name: 'push/pull vs dockerd 26', value: NaN, unit: 's', note: 'skipped: ../shared/bench/setup-peers.sh has not unpacked dockerd 26' }];
  if (spawnSync('bash', [PEERS], { stdio: 'ignore' }).status !== 0) return [{ area: 'registry', name: 'push/pull vs dockerd 26', value: NaN, unit: 's', note: 'skipped: setup-peers.sh failed' }];
  const dir = await mkdtemp('/tmp/tbbench-regpeer-');
  const config = join(dir, 'config');
  mkdirSync(config, { recursive: true });
  writeFileSync(join(config, 'config.json'), '{}');
  const archive = join(dir, 'big.tar');
  await writeArchive(archive, 'bench/big:1');
  const { host: tbHost, stop: stopTbuild } = await startDaemon(dir);
  const targets = [
    { name: 'tbuild', host: tbHost },
    { name: 'dockerd', host: 'unix:///run/peer-docker26.sock' },
  ];
  const env = (host: string): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: config, DOCKER_HOST: host, DOCKER_CONFIG: config, DOCKER_CLI_HINTS: 'false' });
  const docker = (host: string, args: string[]): number => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(join(PEER, 'usr/bin/docker'), args, { env: env(host), stdio: ['ignore', 'ignore', 'pipe'] });
    if (r.status !== 0) throw new Error(`docker ${args.join(' ')} against ${host}: ${r.stderr.toString().slice(-1000)}`);
    return Number(process.hrtime.bigint() - t0) / 1e9;
  };
  const quiet = (host: string, args: string[]) => spawnSync(join(PEER, 'usr/bin/docker'), args, { env: env(host), stdio: 'ignore' });
  const times: Record<string, { push: number[]; pull: number[] }> = { tbuild: { push: [], pull: [] }, dockerd: { push: [], pull: [] } };
  try {
    for (let i = 0; i < RUNS; i++) {
      for (const t of targets) {
        const reg = await startRegistry('plain');
        try {
          const ref = `${reg.host}/bench/big-${t.name}:${i}`;
          docker(t.host, ['load', '-q', '-i', archive]);
          docker(t.host, ['tag', 'bench/big:1', ref]);
          times[t.name]!.push.push(docker(t.host, ['push', '-q', ref]));
          // forget every trace of the image, so the pull fetches and unpacks all of it
          quiet(t.host, ['rmi', '-f', ref, 'bench/big:1']);
          quiet(t.host, ['image', 'prune', '-af']);
          quiet(t.host, ['builder', 'prune', '-af']);
          times[t.name]!.pull.push(docker(t.host, ['pull', '-q', ref]));
          quiet(t.host, ['rmi', '-f', ref]);
          quiet(t.host, ['image', 'prune', '-af']);
          quiet(t.host, ['builder', 'prune', '-af']);
        } finally {
          await reg.stop();
        }
      }
    }
  } finally {
    await stopTbuild();
    spawnSync('bash', [PEERS, '--stop'], { stdio: 'ignore' });
    await rm(dir, { recursive: true, force: true });
  }
  const mb = (LAYERS * LAYER_MB * 1.048576).toFixed(0);
  return (['push', 'pull'] as const).map((k) => {
    const a = median(times.tbuild![k]);
    const b = median(times.dockerd![k]);
    return {
      area: 'registry',
      name: `docker ${k}, tbuild daemon vs dockerd 26`,
      value: a / b,
      unit: '×',
      target: '<= 1.0',
      met: a <= b,
      // every run's figure too: on a noisy machine the spread says as much as the median
      note: `${a.toFixed(2)} s vs ${b.toFixed(2)} s (same Docker CLI, fresh registry each run, ${LAYERS} layers, ${mb} MB, median of ${RUNS}; runs: ${times.tbuild![k].map((t) => t.toFixed(2)).join(' ')} vs ${times.dockerd![k].map((t) => t.toFixed(2)).join(' ')})`,
    };
  });
}
