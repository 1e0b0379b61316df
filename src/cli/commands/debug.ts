import { Command } from 'commander';
import type { CliContext, RegisterCommand } from '../context.js';
import { TbuildError, isTbuildError } from '../../errors.js';
import type { Digest } from '../../util/digest.js';
import { addRun } from './run.js';
import { debugMounts, type DebugMounts } from './debug-mounts.js';

/**
 * `tbuild debug [BUILD|last] [--step N] [-- CMD…]`: a container in the state a RUN step left (by
 * default the failed one: its files up to the failure), with its env, workdir, user and mounts
 * (caches, tmpfs, binds; secrets and ssh agents are named, never there). A failed step's state
 * lives in the build record and a kept layer until the next build of the root; a step that
 * succeeded or came from the cache is its cached result, there until a prune. It runs through
 * `tbuild run --rm -i[t]` on a temporary image that is removed afterwards.
 */
export const registerDebug: RegisterCommand = (program, ctx) => {
  program.enablePositionalOptions();
  program
    .command('debug')
    .description("start a container in the state a RUN step left (by default the failed one): its files, env, workdir, user and mounts")
    .argument('[build]', 'build id, or last', 'last')
    .argument('[command...]', 'command to run instead of sh (options go before the build id)')
    .option('--step <n>', 'a RUN of that build (run or cached), numbered as `tbuild builds inspect` shows it (default: the failed RUN)')
    .option('--network <mode>', 'network of the container (as tbuild run: bridge by default, none, host, or a name)')
    .passThroughOptions()
    .action((build: string, command: string[], opts: DebugOptions) => debugStep(ctx, build, command, opts));
};

export interface DebugOptions {
  step?: string;
  network?: string;
}

/** Start a container in the state step `opts.step` (default: the failed RUN) of `build` left. */
export async function debugStep(ctx: CliContext, build: string, command: string[], opts: DebugOptions): Promise<void> {
  if (ctx.host()) {
    throw new TbuildError('TB_INVALID_ARGUMENT', 'tbuild debug works on a state root directly: give --root (the daemon\'s data root), not -H');
  }
  const engine = await ctx.engine();
  if (!engine.records || !engine.snapshots) throw new TbuildError('TB_NOT_IMPLEMENTED', 'this engine keeps no build records');
  const snapshots = engine.snapshots;
  const rec = await engine.records.get(build);
  const wanted = opts.step === undefined ? undefined : Number(opts.step);
  if (wanted !== undefined && !Number.isInteger(wanted)) throw new TbuildError('TB_INVALID_ARGUMENT', `--step ${opts.step}: want a step number`);
  const step = wanted === undefined ? rec.steps.find((s) => s.debug && s.error) : rec.steps.find((s) => s.index === wanted);
  if (!step) {
    throw new TbuildError('TB_DEBUG_STATE_NOT_FOUND', wanted === undefined ? `build ${rec.id} has no failed RUN step to debug (give --step N for one that ran)` : `build ${rec.id} has no step ${wanted}`);
  }
  const state = step.debug;
  if (!state) throw new TbuildError('TB_INVALID_ARGUMENT', `step ${step.index} (${step.name}) kept no state: only RUN steps do`);
  const name = `tbuild-debug:${rec.id.slice(0, 12)}-${step.index}`;
  try {
    await engine.images.create({
      config: {
        architecture: process.arch === 'x64' ? 'amd64' : process.arch,
        os: 'linux',
        config: { Env: state.env, WorkingDir: state.cwd, User: state.user, Cmd: ['sh'] },
        rootfs: { type: 'layers', diff_ids: state.layers.map((l) => l.diffId as Digest) },
      },
      layers: state.layers.map((l) => ({ diffId: l.diffId as Digest, size: l.size, snapshot: l.snapshot })),
      names: [name],
    });
  } catch (err) {
    if (isTbuildError(err, 'TB_SNAPSHOT_NOT_FOUND')) {
      throw new TbuildError('TB_DEBUG_STATE_NOT_FOUND', `the state of step ${step.index} (${step.name}) is gone: a later build or a prune removed it`, { cause: err });
    }
    throw err;
  }
  let mounts: DebugMounts | undefined;
  try {
    mounts = await debugMounts(engine.root, snapshots, state.mounts ?? []);
    for (const n of mounts.notes) ctx.stderr.write(`note: ${n}\n`);
    // The whole of `tbuild run` (terminal, signals, exit status), on a command tree of its own.
    const run = new Command().enablePositionalOptions();
    run.exitOverride();
    addRun(run, ctx);
    const tty = Boolean(process.stdin.isTTY && process.stdout.isTTY);
    await run.parseAsync(['run', '--rm', '-i', ...(tty ? ['-t'] : []), ...(opts.network ? ['--network', opts.network] : []), ...mounts.args, name, ...command], { from: 'user' });
  } finally {
    await mounts?.release();
    await engine.images.remove(name).catch(() => {});
  }
}
