/**
 * Network figures: netavark set-up + teardown of one namespace on the default bridge, a RUN
 * step's namespace from the pool, `tbuild run --rm busybox true` on the bridge vs `--network none`,
 * and a 10-RUN build (no cache) on the default network vs `--network host`.
 */
import { mkdtemp, rm, mkdir, writeFile } from 'node:fs/promises';
import { releaseHelpersDone } from '../test/support/tmp.js';
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openNetworkManager } from '../src/network/manager.js';
import { median, type BenchRow } from './types.js';

const here = dirname(fileURLToPath(import.meta.url));
const BUSYBOX_TAR = join(here, '..', '..', 'shared', 'images', 'busybox-local.docker.tar');
const DIST_CLI = join(here, '..', 'dist', 'cli.js');
const CLI_ENTRY = existsSync(DIST_CLI) ? [DIST_CLI] : ['--import', 'tsx', join(here, '..', 'src', 'cli.ts')];
const ENV = { TBUILD_BRIDGE: `tbuildb${process.pid % 100000}`, TBUILD_BRIDGE_SUBNET: '10.254.77.0/24' };

function cli(root: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI_ENTRY, '--root', root, ...args], { cwd: join(here, '..'), stdio: 'ignore', env: { ...process.env, ...ENV } });
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
}

async function timed(n: number, f: () => Promise<unknown>): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await f();
    xs.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(xs);
}

export async function bench(): Promise<BenchRow[]> {
  const root = await mkdtemp('/tmp/tbbench-net-');
  const rows: BenchRow[] = [];
  try {
    const nets = await openNetworkManager({ root, bridge: ENV.TBUILD_BRIDGE, subnet: ENV.TBUILD_BRIDGE_SUBNET });
    // keep one attachment so the bridge and its chains stay: the steady state of a busy engine
    const keep = await nets.attach({ id: 'keep', name: 'keep', networks: [{ network: 'bridge' }] });
    const raw = await timed(10, async () => (await nets.attach({ id: `b${Math.random().toString(36).slice(2)}`, name: 'b', networks: [{ network: 'bridge' }] })).release());
    rows.push({ area: 'network', name: 'namespace set-up + teardown (netavark, bridge)', value: raw, unit: 'ms', note: 'median of 10' });
    await (await nets.acquireDefault()).release();
    const pooled = await timed(20, async () => (await nets.acquireDefault()).release());
    rows.push({ area: 'network', name: 'RUN step namespace from the pool', value: pooled, unit: 'ms', note: 'median of 20' });
    await nets.close();
    await keep.release();

    if ((await cli(root, ['load', '-i', BUSYBOX_TAR])) !== 0) throw new Error('load failed');
    await cli(root, ['run', '--rm', 'busybox:local', 'true']);
    const bridged = await timed(5, () => cli(root, ['run', '--rm', 'busybox:local', 'true']));
    const none = await timed(5, () => cli(root, ['run', '--rm', '--network', 'none', 'busybox:local', 'true']));
    rows.push({ area: 'network', name: '`tbuild run --rm busybox true`, default bridge', value: bridged / 1000, unit: 's', note: `--network none: ${(none / 1000).toFixed(2)} s (median of 5)` });

    const ctx = join(root, 'ctx');
    await mkdir(ctx);
    await writeFile(join(ctx, 'Dockerfile'), ['FROM busybox:local', ...Array.from({ length: 10 }, (_, i) => `RUN echo step${i} > /f${i}`), ''].join('\n'));
    const def = await timed(3, () => cli(root, ['build', '-q', '--no-cache', ctx]));
    const host = await timed(3, () => cli(root, ['build', '-q', '--no-cache', '--network', 'host', ctx]));
    const ratio = def / host;
    rows.push({
      area: 'network',
      name: '10-RUN build, default network vs --network host',
      value: ratio,
      unit: '×',
      target: '<= 1.10',
      met: ratio <= 1.1,
      note: `${(def / 1000).toFixed(2)} s vs ${(host / 1000).toFixed(2)} s (median of 3, no cache)`,
    });
  } finally {
    // the CLI builds' idle namespaces are released by a helper a moment after each build
    await releaseHelpersDone(root);
    await rm(root, { recursive: true, force: true }).catch(() => {});
  }
  return rows;
}
