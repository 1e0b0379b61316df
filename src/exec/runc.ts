import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, watch } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { TbuildError } from '../errors.js';
import type { ContainerRuntime, Executor, ExitStatus, ProcessIO, ProcessSpec, RunningContainer, RunSpec, TtySize } from './types.js';
import { resizeTty } from './tty.js';
import { ociProcess, type HostRlimits, type OciProcess, type SpecContext } from './spec.js';
import { resolveUser } from './user.js';
import { cgroupDirs, hostRlimits, removeCgroup, wasOomKilled } from './cgroups.js';
import { RuncContainer } from './runc-container.js';
import { removeStubs } from './stubs.js';
import { CGROUP_PARENT, ID_RE, prepareBundle } from './runc-bundle.js';
import { onPath, processStart } from '../util/process.js';
import { traced } from '../util/trace.js';
import type { SecurityHostPaths } from './security/types.js';
import { exitCodeOf, exitStatus, isSignalExit, runtimeError, runtimeLogError } from './runc-status.js';
import { reportPid, startRuntimeProcess, ttyWrap, type RuntimeProcess } from './runtime-process.js';
import { warmSpawnHelper } from '../util/spawn-server.js';


export interface RuncExecutorOptions {
  /** State root: bundles go to `<root>/exec/<id>/`, runc state to `<root>/runc/`. */
  root: string;
  /** Runtime binary (name on PATH or absolute path). */
  runtime: string;
  /** Host files security options use (default seccomp profile, init binary); defaults in security/types.ts. */
  security?: SecurityHostPaths;
}

interface Launched {
  id: string;
  bundle: string;
  child: RuntimeProcess;
  /** Resolves with the raw exit of `runc run` once it has exited and all its pipes drained. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  cleanup: () => Promise<void>;
  cgroupPath: string;
  /** Set when a parent cgroup was made so the OOM counter survives runc's cleanup. */
  oomParent?: string;
  spec: RunSpec;
  ctx: SpecContext;
}

/**
 * The runc executor: one bundle per container, `runc run` in the foreground so its exit status is
 * the container's (signal deaths already come back as 128+n) and its stdio is the process' stdio.
 */
export function createRuncExecutor(opts: RuncExecutorOptions): Executor & ContainerRuntime {
  return new RuncExecutor(opts);
}

class RuncExecutor implements Executor, ContainerRuntime {
  readonly #root: string;
  readonly #runtime: string;
  /** The runtime's binary, found on PATH once: a RUN step or an exec spawns it several times. */
  readonly #binary: string;
  /** The directory of exec'd processes' specs, made on the first exec. */
  #procDir: Promise<void> | undefined;
  readonly #runcRoot: string;
  readonly #security: SecurityHostPaths | undefined;
  #rlimits: HostRlimits | undefined;
  /** Written into each bundle so `sweep` can tell a crashed owner from a live one. */
  readonly #owner = `${process.pid} ${processStart(process.pid)}`;

  get runtime(): string {
    return this.#runtime;
  }

  get securityPaths(): SecurityHostPaths | undefined {
    return this.#security;
  }

  constructor(opts: RuncExecutorOptions) {
    this.#root = opts.root;
    this.#runtime = opts.runtime;
    this.#binary = onPath(opts.runtime);
    this.#runcRoot = join(opts.root, 'runc');
    this.#security = opts.security;
  }

  async run(id: string, spec: RunSpec, io: ProcessIO, signal?: AbortSignal): Promise<ExitStatus> {
    if (signal?.aborted) throw cancelled(id);
    const l = await this.#launch(id, spec, io, false);
    let aborted = false;
    const onAbort = () => {
      aborted = true;
      void this.#killUntilExit(l);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      let status: ExitStatus;
      try {
        status = await this.#finish(l);
      } catch (err) {
        // Killed while runc was still setting the container up, runc reports its own failure
        // (e.g. init killed mid-setup): after a cancel that is the cancel, not a runtime fault.
        if (aborted) throw cancelled(id, err);
        throw err;
      }
      if (aborted) throw cancelled(id);
      return status;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async start(id: string, spec: RunSpec, io: ProcessIO): Promise<RunningContainer> {
    const l = await this.#launch(id, spec, io, true);
    const done = this.#finish(l);
    done.catch(() => {});
    const pid = await this.#waitPid(l, done);
    return new RuncContainer(this, l.id, l.spec.rootfs, pid, done);
  }

  resizeTty(pid: number, size: TtySize): Promise<void> {
    return resizeTty(pid, size, this.#binary);
  }

  async runtimeCommand(args: string[]): Promise<string> {
    const r = await this.#exec(args);
    if (r.code !== 0) {
      throw new TbuildError('TB_RUNTIME_FAILED', `${this.#runtime} ${args[0]} failed: ${r.stderr.trim() || `exit ${r.code}`}`);
    }
    return r.stdout;
  }

  async sweep(): Promise<string[]> {
    const dir = join(this.#root, 'exec');
    const swept: string[] = [];
    for (const id of await readdir(dir).catch(() => [] as string[])) {
      if (!ID_RE.test(id)) continue;
      const owner = await readFile(join(dir, id, 'owner'), 'utf8').catch(() => undefined);
      if (owner === undefined) continue; // still being written, or not ours
      const [pid, start] = owner.split(' ');
      if (processStart(Number(pid)) === start) continue;
      await this.#exec(['kill', id, 'KILL']).catch(() => {});
      await this.#exec(['delete', '--force', id]).catch(() => {});
      await removeCgroup(`${CGROUP_PARENT}/${id}`, ['ctr']).catch(() => {});
      await rm(join(dir, id), { recursive: true, force: true });
      swept.push(id);
    }
    return swept;
  }

  async state(id: string): Promise<{ status: string; pid: number } | undefined> {
    const r = await this.#exec(['state', id]);
    if (r.code !== 0) return undefined;
    const s = JSON.parse(r.stdout) as { status: string; pid: number };
    return { status: s.status, pid: s.pid };
  }

  /** Spawn a runtime subcommand and collect its output (never throws on non-zero exit). */
  #exec(args: string[], stdio?: { input?: string }): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.#binary, ['--root', this.#runcRoot, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => err.push(d));
      child.on('error', (e) => reject(this.#spawnError(e)));
      child.on('close', (code) =>
        resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }),
      );
      child.stdin.on('error', () => {}); // runc may exit before reading its (empty) input
      child.stdin.end(stdio?.input ?? '');
    });
  }

  #spawnError(e: Error): Error {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      return new TbuildError(
        'TB_RUNTIME_MISSING',
        `container runtime "${this.#runtime}" not found; install runc (Debian/Ubuntu: apt-get install runc) or pass --runtime /path/to/runc`,
        { cause: e },
      );
    }
    return new TbuildError('TB_RUNTIME_FAILED', `cannot start ${this.#runtime}: ${e.message}`, { cause: e });
  }

  /** The spawn helper starts runc unless a terminal is wanted (or runc was not found on PATH: it does not search). */
  #viaHelper(tty: boolean | undefined): boolean {
    return !tty && isAbsolute(this.#binary);
  }

  async #launch(id: string, spec: RunSpec, io: ProcessIO, wantPid: boolean): Promise<Launched> {
    // (the bundle takes longer to make than the helper to start)
    if (this.#viaHelper(spec.process.tty)) warmSpawnHelper();
    const { bundle, ctx, cgroupPath, oomParent, destinations, missing } = await traced('runtime setup', () =>
      prepareBundle(this.#root, id, spec, {
        rlimits: () => (this.#rlimits ??= hostRlimits()),
        owner: this.#owner,
        ...(this.#security ? { security: this.#security } : {}),
      }),
    );
    const args = ['--root', this.#runcRoot, '--log', join(bundle, 'runc.log'), '--log-format', 'json', 'run', '--bundle', bundle];
    if (wantPid) args.push('--pid-file', join(bundle, 'pid'));
    args.push(id);
    const cleanup = async () => {
      if (existsSync(join(this.#runcRoot, id))) await this.#exec(['delete', '--force', id]).catch(() => {});
      if (oomParent) await removeCgroup(oomParent, ['ctr']);
      else if (cgroupDirs(cgroupPath).some((d) => existsSync(d))) await removeCgroup(cgroupPath);
      removeStubs(spec.rootfs, missing, destinations);
      rmSync(bundle, { recursive: true, force: true });
    };
    // In the foreground runc wants its own controlling terminal to give the container a pty;
    // `script` provides one and relays it over our pipes (stderr then joins stdout).
    const child = await startRuntimeProcess(...(spec.process.tty ? ttyWrap(this.#binary, args, spec.process.consoleSize) : ([this.#binary, args] as const)), {
      // With a tty and no input, hold stdin open: `script` would otherwise type an EOF into the pty.
      stdin: Boolean(io.stdin) || Boolean(spec.process.tty),
      stdout: Boolean(io.stdout),
      stderr: Boolean(io.stderr),
      cwd: bundle,
      // every RUN step and container starts one: forking this whole process costs ~7 ms here
      viaHelper: this.#viaHelper(spec.process.tty),
      spawnError: (e) => this.#spawnError(e),
    }).catch(async (err: unknown) => {
      await cleanup();
      throw err;
    });
    const exited = child.exited;
    if (io.stdout && child.stdout) child.stdout.pipe(io.stdout, { end: false });
    if (io.stderr && child.stderr) child.stderr.pipe(io.stderr, { end: false });
    child.stdin?.on('error', () => {});
    if (io.stdin && child.stdin) {
      const stdin = child.stdin;
      stdin.on('error', () => {}); // the container may exit without reading its input
      io.stdin.pipe(stdin);
      exited.finally(() => io.stdin?.unpipe(stdin)).catch(() => {});
    }

    return { id, bundle, child, exited, cleanup, cgroupPath, oomParent, spec, ctx };
  }

  /** Wait for `runc run` to end, translate its status, release everything. */
  async #finish(l: Launched): Promise<ExitStatus> {
    let raw: { code: number | null; signal: NodeJS.Signals | null };
    try {
      raw = await l.exited;
    } catch (err) {
      await l.cleanup();
      throw err;
    }
    try {
      const code = exitCodeOf(raw.code, raw.signal);
      let status = exitStatus(code);
      if (code !== 0 && !isSignalExit(code)) {
        const failure = await runtimeError(this.#runtime, l.bundle);
        if (failure) status = failure;
      }
      if (l.oomParent && (await wasOomKilled(l.oomParent, status.exitCode))) status.oomKilled = true;
      return status;
    } finally {
      await l.cleanup();
    }
  }

  /** The container's pid once runc has written its pid file (watched, not polled), or 0 if it ended first. */
  async #waitPid(l: Launched, done: Promise<ExitStatus>): Promise<number> {
    let finished = false;
    const ended = done.then(
      () => void (finished = true),
      () => void (finished = true),
    );
    const file = join(l.bundle, 'pid');
    let wake: () => void = () => {};
    let w: ReturnType<typeof watch> | undefined;
    try {
      w = watch(l.bundle, () => wake());
      w.on('error', () => wake());
    } catch {
      // polling only
    }
    try {
      for (;;) {
        const changed = new Promise<void>((r) => (wake = r));
        let text = '';
        try {
          text = readFileSync(file, 'utf8').trim();
        } catch {
          // not written yet
        }
        if (text) return Number(text);
        if (finished) {
          await done; // surfaces a runtime failure
          return 0;
        }
        let t: NodeJS.Timeout | undefined;
        await Promise.race([changed, ended, new Promise((r) => (t = setTimeout(r, w ? 100 : 5)))]);
        clearTimeout(t);
      }
    } finally {
      w?.close();
    }
  }

  /** Kill the container; before `runc run` has created it there is nothing to kill yet, so retry. */
  async #killUntilExit(l: Launched): Promise<void> {
    let exited = false;
    void l.exited.then(
      () => (exited = true),
      () => (exited = true),
    );
    for (let i = 0; !exited && i < 200; i++) {
      await this.#exec(['kill', l.id, 'KILL']).catch(() => {});
      await Promise.race([l.exited.catch(() => {}), new Promise((r) => setTimeout(r, 25))]);
    }
    if (!exited) l.child.kill('SIGKILL');
  }

  async execProcess(id: string, rootfs: string, p: ProcessSpec, io: ProcessIO): Promise<ExitStatus> {
    if (this.#viaHelper(p.tty)) warmSpawnHelper();
    const user = await resolveUser(rootfs, p.user);
    this.#rlimits ??= hostRlimits();
    const proc = ociProcess(p, { user, hostRlimits: this.#rlimits });
    // An exec'd process gets the container's capabilities and no-new-privileges (seccomp comes
    // from the container's config anyway), as in Docker.
    const container = await readFile(join(this.#root, 'exec', id, 'config.json'), 'utf8').then(
      (t) => (JSON.parse(t) as { process: OciProcess }).process,
      () => undefined,
    );
    if (container) {
      const caps = container.capabilities.bounding;
      proc.capabilities = { bounding: caps, effective: user.uid === 0 ? caps : [], permitted: user.uid === 0 ? caps : [] };
      proc.noNewPrivileges = container.noNewPrivileges;
      proc.rlimits = container.rlimits;
    }
    const dir = join(this.#root, 'exec', '.proc');
    this.#procDir ??= mkdir(dir, { recursive: true }).then(() => {});
    await this.#procDir.catch((err: unknown) => {
      this.#procDir = undefined;
      throw err;
    });
    const file = join(dir, `${id}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.json`);
    await writeFile(file, JSON.stringify(proc)).catch(async (err: NodeJS.ErrnoException) => {
      // (the directory went away under us: made again)
      if (err.code !== 'ENOENT') throw err;
      await mkdir(dir, { recursive: true });
      await writeFile(file, JSON.stringify(proc));
    });
    try {
      const args = ['--root', this.#runcRoot, '--log', `${file}.log`, '--log-format', 'json', 'exec', '--process', file];
      if (io.started) args.push('--pid-file', `${file}.pid`);
      args.push(id);
      const child = await startRuntimeProcess(...(p.tty ? ttyWrap(this.#binary, args, p.consoleSize) : ([this.#binary, args] as const)), {
        stdin: Boolean(io.stdin) || Boolean(p.tty),
        stdout: Boolean(io.stdout),
        stderr: Boolean(io.stderr),
        // an exec is on a client's critical path: forking this whole process for it costs ~7 ms here
        viaHelper: this.#viaHelper(p.tty),
        spawnError: (e) => this.#spawnError(e),
      });
      let reported = false;
      const started = io.started
        ? (pid: number) => {
            if (reported) return;
            reported = true;
            io.started!(pid);
          }
        : undefined;
      if (started) void reportPid(`${file}.pid`, child.running, started);
      child.stdin?.on('error', () => {});
      if (io.stdout && child.stdout) child.stdout.pipe(io.stdout, { end: false });
      if (io.stderr && child.stderr) child.stderr.pipe(io.stderr, { end: false });
      if (io.stdin && child.stdin) {
        child.stdin.on('error', () => {});
        // With a tty the end of the caller's input is a detach, not an EOF typed into the terminal.
        io.stdin.pipe(child.stdin, { end: !p.tty });
      }
      const ended = await child.exited;
      const code = exitCodeOf(ended.code, ended.signal);
      if (io.stdin && child.stdin) io.stdin.unpipe(child.stdin);
      // a process that ended before the pid file was polled still had a pid (exec inspect shows it)
      if (started && !reported) {
        const pid = Number((await readFile(`${file}.pid`, 'utf8').catch(() => '')).trim());
        if (pid) started(pid);
      }
      // runc exec exits 255 when it could not start the process; its log says why (Docker: 126/127)
      if (code === 255) {
        // Docker: any other failure to start an exec'd process is 126 as well
        const failure = await runtimeLogError(this.#runtime, `${file}.log`).catch((e: Error) => ({ exitCode: 126, error: e.message }));
        // runc has printed its message on the process's stderr already
        if (failure) return failure;
      }
      return exitStatus(code);
    } finally {
      await Promise.all([file, `${file}.log`, `${file}.pid`].map((f) => rm(f, { force: true })));
    }
  }
}

function cancelled(id: string, cause?: unknown): TbuildError {
  return new TbuildError('TB_EXEC_CANCELLED', `container ${id} cancelled`, cause === undefined ? undefined : { cause });
}
