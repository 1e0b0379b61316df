import { collect } from '../options.js';
import { openTerminal } from '../terminal.js';
import type { Command } from 'commander';
import type { CliContext, RegisterCommand } from '../context.js';
import type { ContainerManager } from '../../containers/types.js';
import { TbuildError } from '../../errors.js';
import { humanSize, table } from './images-format.js';
import { askYesNo } from './images-df.js';
import { checkFilterNames, filtersFromFlags, PRUNE_FILTERS } from '../../util/filters.js';
import { addPs } from './ps.js';
import { envFlag, parseRestart, parseSize, parseVolume, stopTimeoutFlag } from './container-flags.js';
import { addCreate, addRun } from './run.js';

export { parseRestart, parseSize, parseVolume };

export async function manager(ctx: CliContext): Promise<ContainerManager> {
  return (await ctx.engine()).containers;
}

/** Apply `fn` to each container argument; report failures the way Docker does and exit 1. */
export async function eachContainer(ctx: CliContext, refs: string[], fn: (ref: string) => Promise<string | void>): Promise<void> {
  let failed = false;
  for (const ref of refs) {
    try {
      const out = await fn(ref);
      ctx.stdout.write(`${out ?? ref}\n`);
    } catch (err) {
      failed = true;
      ctx.stderr.write(`Error response from daemon: ${(err as Error).message}\n`);
    }
  }
  if (failed) ctx.setExitCode(1);
}

function addSimple(parent: Command, ctx: CliContext, only?: Set<string>): void {
  parent = filtered(parent, only);
  parent
    .command('rm')
    .aliases(parent.name() === 'container' ? ['remove'] : [])
    .description('remove one or more containers')
    .argument('<container...>')
    .option('-f, --force', 'kill a running container first')
    .option('-v, --volumes', 'remove its anonymous volumes')
    .action(async (refs: string[], f: { force?: boolean; volumes?: boolean }) => {
      const mgr = await manager(ctx);
      await eachContainer(ctx, refs, (r) => mgr.remove(r, { force: Boolean(f.force), volumes: Boolean(f.volumes) }));
    });
  parent
    .command('stop')
    .description("stop running containers (the container's stop signal, SIGTERM by default, then SIGKILL after the timeout)")
    .argument('<container...>')
    .option('-t, --time <seconds>', "seconds to wait before killing (default: the container's --stop-timeout, else 10)")
    .option('-s, --signal <signal>', "signal to stop with (default: the container's --stop-signal, else SIGTERM)")
    .action(async (refs: string[], f: { time?: string; signal?: string }) => {
      const mgr = await manager(ctx);
      await eachContainer(ctx, refs, (r) => mgr.stop(r, f.time === undefined ? undefined : stopTimeoutFlag(f.time), f.signal));
    });
  parent
    .command('restart')
    .description('restart containers')
    .argument('<container...>')
    .option('-t, --time <seconds>', 'seconds to wait before killing', '10')
    .option('-s, --signal <signal>', "signal to stop with (default: the container's --stop-signal, else SIGTERM)")
    .action(async (refs: string[], f: { time: string; signal?: string }) => {
      const mgr = await manager(ctx);
      await eachContainer(ctx, refs, (r) => mgr.restart(r, Number(f.time), f.signal));
    });
  parent
    .command('kill')
    .description('send a signal to running containers')
    .argument('<container...>')
    .option('-s, --signal <signal>', 'signal to send', 'KILL')
    .action(async (refs: string[], f: { signal: string }) => {
      const mgr = await manager(ctx);
      await eachContainer(ctx, refs, (r) => mgr.kill(r, f.signal));
    });
  parent
    .command('start')
    .description('start stopped containers')
    .argument('<container...>')
    .option('-a, --attach', 'attach stdout/stderr and propagate the exit code')
    .action(async (refs: string[], f: { attach?: boolean }) => {
      const mgr = await manager(ctx);
      if (f.attach) {
        const ref = refs[0]!;
        await mgr.start(ref, { stdout: ctx.stdout as import('node:stream').Writable, stderr: ctx.stderr as import('node:stream').Writable });
        ctx.setExitCode((await mgr.wait(ref)).exitCode);
        return;
      }
      await eachContainer(ctx, refs, (r) => mgr.start(r));
    });
  parent
    .command('wait')
    .description('block until containers stop, then print their exit codes')
    .argument('<container...>')
    .action(async (refs: string[]) => {
      const mgr = await manager(ctx);
      await eachContainer(ctx, refs, async (r) => String((await mgr.wait(r)).exitCode));
    });
  for (const [cmd, desc] of [
    ['pause', 'pause all processes within containers'],
    ['unpause', 'unpause all processes within containers'],
  ] as const) {
    parent
      .command(cmd)
      .description(desc)
      .argument('<container...>')
      .action(async (refs: string[]) => {
        const mgr = await manager(ctx);
        await eachContainer(ctx, refs, (r) => (cmd === 'pause' ? mgr.pause(r) : mgr.unpause(r)));
      });
  }
  parent
    .command('rename')
    .description('rename a container')
    .argument('<container>')
    .argument('<new-name>')
    .action(async (ref: string, name: string) => {
      await (await manager(ctx)).rename(ref, name);
    });
  parent
    .command('logs')
    .description('fetch the logs of a container')
    .argument('<container>')
    .option('-f, --follow', 'follow log output')
    .option('-n, --tail <n>', 'number of lines from the end', 'all')
    .option('-t, --timestamps', 'show timestamps')
    .option('--since <time>', 'show logs since a timestamp (RFC 3339 or unix seconds) or relative (e.g. 10m)')
    .action(async (ref: string, f: { follow?: boolean; tail: string; timestamps?: boolean; since?: string }) => {
      const mgr = await manager(ctx);
      const tail = f.tail === 'all' ? 'all' : Number(f.tail);
      const sinceSec = f.since ? parseSince(f.since) : undefined;
      for await (const e of mgr.logs(ref, { follow: Boolean(f.follow), tail, timestamps: Boolean(f.timestamps), ...(sinceSec ? { since: sinceSec } : {}) })) {
        const line = f.timestamps ? `${e.time} ${e.log}` : e.log;
        (e.stream === 'stderr' ? ctx.stderr : ctx.stdout).write(line);
      }
    });
  parent
    .command('top')
    .description('display the running processes of a container')
    .argument('<container>')
    .argument('[ps-options...]')
    .action(async (ref: string, psArgs: string[]) => {
      const t = await (await manager(ctx)).top(ref, psArgs.length ? psArgs.join(' ') : undefined);
      ctx.stdout.write(table(t.titles, t.processes));
    });
  parent
    .command('exec')
    .description('run a command in a running container')
    .argument('<container>')
    .argument('<command...>')
    .option('-i, --interactive', 'forward stdin')
    .option('-t, --tty', 'allocate a pseudo-TTY')
    .option('--detach-keys <keys>', 'key sequence that detaches (default ctrl-p,ctrl-q)')
    .option('-u, --user <user>', 'user[:group]')
    .option('-w, --workdir <dir>', 'working directory')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable', collect, [])
    .passThroughOptions()
    .action(async (ref: string, command: string[], f: { interactive?: boolean; tty?: boolean; detachKeys?: string; user?: string; workdir?: string; env: string[] }) => {
      const mgr = await manager(ctx);
      const term = openTerminal({ tty: Boolean(f.tty), interactive: Boolean(f.interactive), detachKeys: f.detachKeys ?? ctx.config.detachKeys });
      const run = mgr.exec(
        ref,
        {
          cmd: command,
          env: f.env.map(envFlag),
          ...(f.user ? { user: f.user } : {}),
          ...(f.workdir ? { workingDir: f.workdir } : {}),
          attachStdin: Boolean(f.interactive),
          tty: Boolean(f.tty),
          ...(term.size ? { consoleSize: term.size } : {}),
        },
        {
          stdout: ctx.stdout as import('node:stream').Writable,
          stderr: ctx.stderr as import('node:stream').Writable,
          ...(term.stdin ? { stdin: term.stdin } : {}),
          started: (p) => term.onResize((size) => void p.resize(size).catch(() => {})),
        },
      );
      let r: { exitCode: number } | undefined;
      try {
        r = await Promise.race([run, term.detached.then(() => undefined)]);
      } finally {
        term.restore();
        if (f.interactive) process.stdin.pause();
      }
      // detached: the exec'd process runs on, and nothing here may wait for it
      if (!r) process.exit(0);
      ctx.setExitCode(r.exitCode);
    });
  parent
    .command('prune')
    .description('remove all stopped containers')
    .option('-f, --force', 'do not prompt for confirmation')
    .option('--filter <filter>', 'provide filter values (e.g. "until=<timestamp>")', collect, [])
    .action(async (f: { force?: boolean; filter: string[] }) => {
      const filters = filtersFromFlags(f.filter);
      checkFilterNames(filters, PRUNE_FILTERS);
      if (!f.force && !(await askYesNo(ctx, 'WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] '))) return;
      const r = await (await manager(ctx)).prune(filters);
      if (r.deleted.length) ctx.stdout.write(`Deleted Containers:\n${r.deleted.join('\n')}\n\n`);
      ctx.stdout.write(`Total reclaimed space: ${humanSize(r.spaceReclaimed)}\n`);
    });
}

function parseSince(s: string): number {
  const rel = /^(\d+)([smh])$/.exec(s);
  if (rel) return Date.now() / 1000 - Number(rel[1]) * { s: 1, m: 60, h: 3600 }[rel[2] as 's' | 'm' | 'h'];
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid value for "since": ${s}`);
  return t / 1000;
}

/** A stand-in parent whose `command()` skips the verbs not in `only`. */
function filtered(parent: Command, only?: Set<string>): Command {
  if (!only) return parent;
  return new Proxy(parent, {
    get(target, prop, receiver) {
      if (prop === 'command') {
        return (name: string) => (only.has(name.split(' ')[0]!) ? target.command(name) : target.createCommand(name));
      }
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
}

/**
 * `run`, `ps`, and the container verbs, top level and under `container …`.
 * `run`/`exec` stop option parsing at the image/container (Docker's rule), which needs positional
 * options on the program: global options go before the subcommand.
 */
export const registerContainerCommands: RegisterCommand = (program, ctx) => {
  program.enablePositionalOptions();
  addRun(program, ctx);
  addCreate(program, ctx);
  addPs(program, ctx, 'ps');
  addSimple(program, ctx, new Set(['rm', 'stop', 'restart', 'kill', 'start', 'wait', 'pause', 'unpause', 'rename', 'logs', 'top', 'exec']));
  const container = program.command('container').description('manage containers').enablePositionalOptions();
  addRun(container, ctx);
  addCreate(container, ctx);
  addPs(container, ctx, 'ls');
  addSimple(container, ctx);
};
