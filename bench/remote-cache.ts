/**
 * Remote build cache round trip (`npm run bench -- registry`): a build that exports its cache to a
 * fresh local docker-registry, then, after the builder forgets everything (image removed, build
 * cache pruned), a build of the same Dockerfile that takes every step from that cache. The same
 * Docker CLI 26 + buildx drives tbuild's daemon and dockerd 26's BuildKit in one run, alternating.
 * dockerd's docker driver exports only inline caches (registry caches need the containerd image
 * store or a BuildKit container, neither available offline), so the side-by-side row is
 * `type=inline`; tbuild's own `type=registry,mode=max` round trip is timed with its CLI.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRegistry } from '../test/support/registry.js';
import { median, type BenchRow } from './types.js';
import { startDaemon } from './daemon.js';

const here = dirname(fileURLToPath(import.meta.url));
const SHARED = join(here, '..', '..', 'shared');
const BUSYBOX = join(SHARED, 'images', 'busybox-local.docker.tar');
const PEERS = join(SHARED, 'bench', 'setup-peers.sh');
const CLIENTS = [process.env.TBUILD_CLIENTS_DIR, '/opt/tbuild-clients', '/opt/peer-docker26'].find((d) => d && existsSync(join(d, 'usr/bin/docker')));
const CLI = join(here, '..', 'dist', 'cli.js');
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const LAYERS = 5;
const LAYER_MB = 20;

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr?.toString().slice(-2000)}`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}


export async function remoteCacheRows(): Promise<BenchRow[]> {
  const skipped = (why: string): BenchRow[] => [{ area: 'registry', name: 'remote cache round trip', value: NaN, unit: 's', note: `skipped: ${why}` }];
  if (!CLIENTS) return skipped('Docker CLI + buildx not installed (scripts/setup.sh)');
  if (!existsSync(BUSYBOX)) return skipped(`no ${BUSYBOX}`);
  const dir = await mkdtemp('/tmp/tb-rcache-bench-');
  const config = join(dir, 'config');
  mkdirSync(join(config, 'cli-plugins'), { recursive: true });
  symlinkSync(join(CLIENTS, 'usr/libexec/docker/cli-plugins/docker-buildx'), join(config, 'cli-plugins', 'docker-buildx'));
  writeFileSync(join(config, 'config.json'), '{}');
  const ctx = join(dir, 'ctx');
  mkdirSync(ctx);
  const runs = Array.from({ length: LAYERS }, (_, i) => `RUN head -c ${LAYER_MB * 1_000_000} /dev/urandom > /layer-${i}`);
  writeFileSync(join(ctx, 'Dockerfile'), `FROM busybox:local\n${runs.join('\n')}\n`);
  const { host: tbHost, stop: stopTbuild } = await startDaemon(dir);
  const targets = [{ name: 'tbuild', host: tbHost }];
  let startedPeers = false;
  if (existsSync(PEERS) && process.env.BENCH_PEERS !== '0' && spawnSync('bash', [PEERS], { stdio: 'ignore' }).status === 0) {
    startedPeers = true;
    targets.push({ name: 'BuildKit', host: 'unix:///run/peer-docker26.sock' });
  }
  const reg = await startRegistry('plain');
  const envFor = (host: string): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: config, DOCKER_HOST: host, DOCKER_CONFIG: config, DOCKER_CLI_HINTS: 'false' });
  const docker = (host: string, args: string[]) => timed(join(CLIENTS, 'usr/bin/docker'), args, envFor(host));
  const forget = (host: string, image: string) => {
    spawnSync(join(CLIENTS, 'usr/bin/docker'), ['rmi', '-f', image], { env: envFor(host), stdio: 'ignore' });
    docker(host, ['builder', 'prune', '-af']);
  };
  const rows: BenchRow[] = [];
  try {
    for (const t of targets) docker(t.host, ['load', '-i', BUSYBOX]);
    const exportT = new Map<string, number[]>();
    const importT = new Map<string, number[]>();
    const push = (m: Map<string, number[]>, k: string, v: number) => m.set(k, [...(m.get(k) ?? []), v]);
    for (let i = 0; i < RUNS; i++) {
      for (const t of targets) {
        const image = `${reg.host}/bench/rc-${t.name.toLowerCase()}-${i}:1`;
        forget(t.host, image);
        push(exportT, t.name, docker(t.host, ['build', '-q', '--network=host', '--cache-to', 'type=inline', '--push', '-t', image, ctx]));
        forget(t.host, image);
        push(importT, t.name, docker(t.host, ['build', '-q', '--network=host', '--cache-from', image, '-t', `rc-imported-${i}`, ctx]));
        forget(t.host, `rc-imported-${i}`);
      }
    }
    // tbuild alone: mode=max to a registry cache, then a forgotten builder imports it
    const maxExport: number[] = [];
    const maxImport: number[] = [];
    const tb = (args: string[]) => timed(process.execPath, [CLI, '-H', tbHost, ...args], envFor(tbHost));
    for (let i = 0; i < RUNS; i++) {
      const ref = `${reg.host}/bench/rc-max:${i}`;
      forget(tbHost, 'rc-max');
      maxExport.push(tb(['build', '-q', '--no-cache', '--cache-to', `type=registry,ref=${ref},mode=max`, '-t', 'rc-max', ctx]));
      forget(tbHost, 'rc-max');
      maxImport.push(tb(['build', '-q', '--cache-from', ref, '-t', 'rc-max', ctx]));
    }
    const mb = `${LAYERS} RUN layers of ${LAYER_MB} MB`;
    const ours = median(exportT.get('tbuild')!) + median(importT.get('tbuild')!);
    const theirs = exportT.has('BuildKit') ? median(exportT.get('BuildKit')!) + median(importT.get('BuildKit')!) : NaN;
    const ratio = ours / theirs;
    rows.push({
      area: 'registry',
      name: 'remote cache round trip, type=inline (docker buildx build)',
      value: ours,
      unit: 's',
      target: '<= 1.0x BuildKit',
      ...(Number.isFinite(ratio) ? { met: ratio <= 1.0 } : {}),
      note: `export ${median(exportT.get('tbuild')!).toFixed(2)} s + import ${median(importT.get('tbuild')!).toFixed(2)} s; ` +
        (Number.isFinite(theirs) ? `BuildKit ${median(exportT.get('BuildKit')!).toFixed(2)} + ${median(importT.get('BuildKit')!).toFixed(2)} = ${theirs.toFixed(2)} s, ${ratio.toFixed(2)}x` : 'BuildKit not run') +
        `; ${mb}; median of ${RUNS}`,
    });
    rows.push({
      area: 'registry',
      name: 'remote cache round trip, type=registry,mode=max (tbuild CLI)',
      value: median(maxExport) + median(maxImport),
      unit: 's',
      note: `export ${median(maxExport).toFixed(2)} s + import ${median(maxImport).toFixed(2)} s; BuildKit needs the containerd store or a BuildKit container for this (not run); ${mb}`,
    });
  } finally {
    await stopTbuild();
    await reg.stop();
    if (startedPeers) spawnSync('bash', [PEERS, '--stop'], { stdio: 'ignore' });
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}
