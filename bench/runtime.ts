/**
 * Runtime figures: container start-to-exit of `true` through the runc executor on a pre-extracted
 * busybox rootfs (the RUN hot path), and `tbuild run --rm busybox true` end to end through the CLI
 * (engine open, container create, shim, runc, removal; informational).
 */
import { mkdtemp, rm, mkdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRuncExecutor } from '../src/exec/runc.js';
import { buildOciSpec } from '../src/exec/spec.js';
import { hostRlimits } from '../src/exec/cgroups.js';
import { median, type BenchRow } from './types.js';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const BUSYBOX_TAR = join(here, '..', '..', 'shared', 'images', 'busybox-local.docker.tar');

async function extractBusybox(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const { stdout } = await run('tar', ['xOf', BUSYBOX_TAR, 'manifest.json']);
  const layer = (JSON.parse(stdout) as Array<{ Layers: string[] }>)[0]!.Layers[0]!;
  await run('sh', ['-c', 'tar xOf "$1" "$2" | tar x -C "$3"', 'sh', BUSYBOX_TAR, layer, dir]);
}

function ms(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** The compiled CLI when `dist/` is built (what users run), else the source through tsx. */
const DIST_CLI = join(here, '..', 'dist', 'cli.js');
const CLI_ENTRY = existsSync(DIST_CLI) ? [DIST_CLI] : ['--import', 'tsx', join(here, '..', 'src', 'cli.ts')];

function cli(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI_ENTRY, ...args], {
      cwd: join(here, '..'),
      stdio: 'ignore',
    });
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
}

export async function bench(): Promise<BenchRow[]> {
  const root = await mkdtemp('/tmp/tbbench-rt-');
  const rows: BenchRow[] = [];
  try {
    const rootfs = join(root, 'rootfs');
    await extractBusybox(rootfs);
    const ex = createRuncExecutor({ root, runtime: 'runc' });
    const spec = { rootfs, process: { args: ['true'], env: [], cwd: '/', user: '' }, mounts: [], network: 'none' as const };
    for (let i = 0; i < 3; i++) await ex.run(`warm${i}`, spec, {});
    const samples: number[] = [];
    for (let i = 0; i < 30; i++) {
      const t0 = process.hrtime.bigint();
      const st = await ex.run(`b${i}`, spec, {});
      samples.push(ms(t0));
      if (st.exitCode !== 0) throw new Error(`true exited ${st.exitCode}`);
    }
    const med = median(samples);

    // The floor: runc alone on one fixed bundle (no spec, files, cgroup checks or cleanup of ours).
    const bundle = join(root, 'raw');
    await mkdir(bundle);
    const ctxSpec = buildOciSpec(spec, { user: { uid: 0, gid: 0, additionalGids: [0], home: '/root' }, hostRlimits: hostRlimits(), cgroupsPath: '/tbuild/raw' });
    await writeFile(join(bundle, 'config.json'), JSON.stringify(ctxSpec));
    const raw: number[] = [];
    for (let i = 0; i < 30; i++) {
      const t0 = process.hrtime.bigint();
      await new Promise((resolve) => spawn('runc', ['--root', join(root, 'runc'), 'run', '--bundle', bundle, `raw${i}`], { stdio: 'ignore' }).on('close', resolve));
      raw.push(ms(t0));
    }
    rows.push({
      area: 'runtime',
      name: 'runc alone on a fixed bundle (floor, median of 30)',
      value: median(raw),
      unit: 'ms',
      note: 'what runc itself costs on this machine right now; the executor row minus this is our overhead',
    });
    rows.push({
      area: 'runtime',
      name: 'container start-to-exit of `true` (executor, median of 30)',
      value: med,
      unit: 'ms',
      target: '<= 60 ms',
      met: med <= 60,
      note: `min ${Math.min(...samples).toFixed(1)} ms, max ${Math.max(...samples).toFixed(1)} ms`,
    });

    const state = join(root, 'state');
    if ((await cli(['--root', state, 'load', '-i', BUSYBOX_TAR])) !== 0) throw new Error('tbuild load failed');
    const e2e: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = process.hrtime.bigint();
      const code = await cli(['--root', state, 'run', '--rm', 'busybox:local', 'true']);
      e2e.push(ms(t0));
      if (code !== 0) throw new Error(`tbuild run exited ${code}`);
    }
    rows.push({
      area: 'runtime',
      name: `\`tbuild run --rm busybox true\` end to end (${existsSync(DIST_CLI) ? 'compiled CLI, node dist/cli.js' : 'CLI from source via tsx'}, median of 5)`,
      value: median(e2e),
      unit: 'ms',
      note: 'informational: includes the CLI\'s own node start; the container shim boots while the container is created',
    });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  return rows;
}
