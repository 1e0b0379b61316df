/**
 * `npm run stress`: the hardening issue's campaigns at full size (the suite runs short versions in
 * test/verify/processes.test.ts). `npm run stress -- concurrency` or `-- crash` runs one.
 *   concurrency: 40 CLI processes mixing build, tag, rmi, load, save and prune on one root beside
 *                a daemon (STRESS_PROCESSES);
 *   crash:       kill -9 of the CLI at 50 points of builds (with a secret), loads, commits, and pushes
 *                and pulls against a local docker-registry (STRESS_KILLS);
 *   tars:        10,000 generated hostile tars applied as layers and 10,000 opened as build
 *                contexts (STRESS_TARS): each confined or refused with a code.
 * Prints the figures and exits 1 if a target is missed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { concurrencyCampaign, crashCampaign, startCliProcess } from '../test/support/store-campaigns.js';
import type { CliResult } from '../test/support/cli.js';
import { startDaemon } from '../bench/daemon.js';
import { startRegistry } from '../test/support/registry.js';
import { hostileTarCampaign } from '../test/support/hostile-tars.js';
import { applyTar } from '../src/cache/layer/index.js';
import { openContext } from '../src/session/open.js';
import { Readable } from 'node:stream';
import { readdir } from 'node:fs/promises';

const here = dirname(fileURLToPath(import.meta.url));
const CLI = join(here, '..', 'dist', 'cli.js');
if (!existsSync(CLI)) throw new Error('run `npm run build` first: the campaigns start hundreds of CLI processes from dist/');
const only = process.argv.slice(2).filter((a) => !a.startsWith('-'));

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
  });
}

const dir = await mkdtemp('/tmp/tb-stress-');
let failed = false;
const report = (name: string, ok: boolean, detail: string) => {
  failed ||= !ok;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}: ${detail}`);
};
try {
  // busybox from Debian's busybox-static, as the suite makes it
  const seed = join(dir, 'seed');
  spawnSync('bash', [join(here, '..', 'scripts', 'make-busybox-rootfs.sh'), join(dir, 'rootfs.tar')], { stdio: 'inherit' });
  await cli(['--root', seed, 'import', join(dir, 'rootfs.tar'), 'busybox:local'], {});
  const busyboxTar = join(dir, 'busybox.tar');
  await cli(['--root', seed, 'save', '-o', busyboxTar, 'busybox:local'], {});

  if (!only.length || only.includes('concurrency')) {
    const daemonDir = join(dir, 'd');
    const daemon = await startDaemon(daemonDir);
    const root = join(daemonDir, 'root');
    try {
      const t0 = Date.now();
      const r = await concurrencyCampaign({
        dir,
        processes: Number(process.env.STRESS_PROCESSES ?? 40),
        busyboxTar,
        cli: (args, o) => cli(o?.viaDaemon ? ['-H', daemon.host, ...args] : ['--root', root, ...args], { TBUILD_HOST: '' }),
      });
      const secs = ((Date.now() - t0) / 1000).toFixed(1);
      report('concurrency', !r.failures.length && !r.lostTags.length && !r.unreadable.length && !r.verify.problems.length,
        `${r.commands} processes in ${secs}s: ${r.failures.length} failed, ${r.lostTags.length} tags lost, ${r.unreadable.length} images unreadable, verify ${r.verify.problems.length} problems`);
      for (const f of [...r.failures, ...r.lostTags, ...r.unreadable, ...r.verify.problems.map((p) => `${p.kind} ${p.subject}`)]) console.log(`     ${f}`);
    } finally {
      await daemon.stop();
    }
  }
  if (!only.length || only.includes('crash')) {
    const root = join(dir, 'crash-root');
    const registry = await startRegistry('plain');
    try {
      const t0 = Date.now();
      const r = await crashCampaign({
        registry: registry.host,
        dir,
        root,
        kills: Number(process.env.STRESS_KILLS ?? 50),
        busyboxTar,
        cli: (args) => cli(['--root', root, ...args], { TBUILD_HOST: '' }),
        start: (args) => startCliProcess([CLI, '--root', root, ...args], { TBUILD_HOST: '' }),
      });
      const secs = ((Date.now() - t0) / 1000).toFixed(1);
      report('crash', !r.secretFiles.length && !r.verify.problems.length && !r.mounts.length && !r.scratch.length && r.rebuilt === 'data\nok\n' && r.committedContainer === 'running',
        `${r.kills} kills in ${secs}s: ${r.mounts.length} mounts and ${r.scratch.length} scratch entries left, ${r.secretFiles.length} secret files on disk, verify ${r.verify.problems.length} problems, next build ${JSON.stringify(r.rebuilt)}, the container commits were killed on is ${r.committedContainer}`);
      for (const f of [...r.mounts, ...r.scratch, ...r.secretFiles, ...r.verify.problems.map((p) => `${p.kind} ${p.subject}`)]) console.log(`     ${f}`);
    } finally {
      await registry.stop();
    }
  }
  if (!only.length || only.includes('tars')) {
    const count = Number(process.env.STRESS_TARS ?? 10_000);
    const codes = ['TB_TAR_HOSTILE', 'TB_TAR_FORMAT', 'TB_PATH_ESCAPE', 'TB_DECOMPRESSION_LIMIT'];
    const campaigns = [
      { name: 'hostile tars as layers', seed: 1, codes, apply: async (tar: Buffer, root: string) => void (await applyTar(Readable.from([tar]), root)) },
      {
        name: 'hostile tars as build contexts',
        seed: 1_000_001,
        codes: [...codes, 'TB_CONTEXT_INVALID'],
        apply: async (tar: Buffer, root: string) => (await openContext({ tar: Readable.from([tar]) }, { root, dockerfileText: 'FROM scratch\n' })).dispose(),
        leftovers: async (root: string) => (await readdir(join(root, 'tmp')).catch(() => [])).map((n) => join('tmp', n)),
      },
    ];
    for (const c of campaigns) {
      const t0 = Date.now();
      const r = await hostileTarCampaign({ dir, count, ...c });
      const refused = Object.entries(r.refused).map(([k, v]) => `${k} ${v}`).join(', ');
      report(c.name, !r.failures.length, `${r.cases} archives in ${((Date.now() - t0) / 1000).toFixed(1)}s: ${r.accepted} confined, refused ${refused}; ${r.failures.length} failures`);
      for (const f of r.failures.slice(0, 20)) console.log(`     seed ${f.seed}: ${f.problem} [${f.recipe.join('; ')}]`);
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true }).catch(() => {});
}
process.exit(failed ? 1 : 0);
