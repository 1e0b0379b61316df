import type { Router } from '../router.js';
import type { DaemonServices } from '../types.js';
import type { ContainerSessions } from '../sessions.js';
import { TbuildError } from '../../errors.js';
import { badRequest, consoleSizeParam, readJson, sendJson, sendStatus, ttySizeFromQuery } from '../http.js';
import { Writable, type Readable } from 'node:stream';
import type { ExecProcess } from '../../containers/types.js';
import { parseDetachKeys, watchDetachKeys } from '../../util/detach-keys.js';
import { hijack, readUpgradeJson } from '../hijack.js';
import { framedWriter, STDERR, STDOUT } from '../../api/wire/multiplex.js';

export function registerExecRoutes(router: Router, svc: DaemonServices, sessions: ContainerSessions): void {
  const containers = svc.engine.containers;

  router.add('POST', '/containers/{id}/exec', async (ctx) => {
    const body = await readJson(ctx.req);
    const c = await containers.inspect(ctx.params.id!);
    if (c.state.status !== 'running') {
      throw new TbuildError('TB_CONTAINER_STATE', c.state.status === 'paused' ? `Container ${c.id} is paused, unpause the container before exec` : `Container ${c.id} is not running`);
    }
    const cmd = body.Cmd;
    if (!Array.isArray(cmd) || cmd.length === 0 || !cmd.every((x) => typeof x === 'string')) throw badRequest('No exec command specified');
    const env = Array.isArray(body.Env) ? (body.Env as unknown[]).map(String) : undefined;
    if (body.Privileged === true) throw badRequest('Privileged exec is not supported by tbuild');
    const detachKeys = typeof body.DetachKeys === 'string' && body.DetachKeys ? body.DetachKeys : undefined;
    if (detachKeys) parseDetachKeys(detachKeys);
    const consoleSize = consoleSizeParam(body.ConsoleSize, 'ConsoleSize');
    const rec = sessions.createExec(c.id, {
      cmd: cmd as string[],
      env,
      workingDir: typeof body.WorkingDir === 'string' && body.WorkingDir ? body.WorkingDir : undefined,
      user: typeof body.User === 'string' && body.User ? body.User : undefined,
      tty: Boolean(body.Tty),
      attachStdin: Boolean(body.AttachStdin),
      attachStdout: body.AttachStdout !== false,
      attachStderr: body.AttachStderr !== false,
      ...(detachKeys ? { detachKeys } : {}),
      ...(consoleSize ? { consoleSize } : {}),
    });
    sendJson(ctx.res, 201, { Id: rec.id });
  });

  router.add('POST', '/exec/{id}/start', async (ctx) => {
    const rec = sessions.getExec(ctx.params.id!);
    const body = await readUpgradeJson(ctx);
    if (rec.running || rec.exitCode !== null) throw new TbuildError('TB_CONTAINER_STATE', `Error: Exec command ${rec.id} has already run`);
    rec.running = true;
    const tty = Boolean(body.Tty ?? rec.opts.tty);
    const consoleSize = consoleSizeParam(body.ConsoleSize, 'ConsoleSize') ?? rec.opts.consoleSize;
    const opts = { ...rec.opts, tty, ...(consoleSize ? { consoleSize } : {}) };
    const started = (p: ExecProcess) => {
      rec.pid = p.pid;
      rec.process = p;
      // a size the client sent before runc reported the pid
      if (rec.pendingSize) void p.resize(rec.pendingSize).catch(() => {});
      rec.pendingSize = undefined;
    };
    const finish = (code: number) => {
      rec.running = false;
      rec.exitCode = code;
      rec.process = undefined;
    };
    if (body.Detach) {
      sendStatus(ctx.res, 200);
      containers.exec(rec.containerId, { ...opts, attachStdin: false }, { started }).then(
        (r) => finish(r.exitCode),
        () => finish(126),
      );
      return;
    }
    const stream = hijack(ctx, tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream');
    // Once a client detached, what the process still writes has nowhere to go.
    const output = detachable(stream.output);
    const stdout = rec.opts.attachStdout ? (tty ? output.writable : framedWriter(output.writable, STDOUT)) : undefined;
    const stderr = rec.opts.attachStderr ? (tty ? output.writable : framedWriter(output.writable, STDERR)) : undefined;
    let stdin: Readable | undefined = rec.opts.attachStdin ? stream.input : undefined;
    if (!stdin) stream.input.resume();
    // Docker: a tty client detaches with its detach keys or by ending its input; the process runs on.
    let detach = () => {};
    const detached = new Promise<void>((resolve) => (detach = resolve));
    if (stdin && tty) {
      stdin = watchDetachKeys(stdin, parseDetachKeys(rec.opts.detachKeys), detach);
      stdin.once('end', detach);
    }
    const run = containers.exec(rec.containerId, opts, { stdin, stdout, stderr, started }).then(
      ({ exitCode }) => finish(exitCode),
      (err: unknown) => {
        finish(126);
        const text = `${err instanceof Error ? err.message : String(err)}\n`;
        if (tty) output.writable.write(text);
        else framedWriter(output.writable, STDERR).write(text);
      },
    );
    try {
      await Promise.race([run, detached]);
    } finally {
      await new Promise((r) => setImmediate(r));
      output.drop();
      stream.close();
    }
  });

  router.add('GET', '/exec/{id}/json', async (ctx) => {
    const rec = sessions.getExec(ctx.params.id!);
    sendJson(ctx.res, 200, {
      ID: rec.id,
      Running: rec.running,
      ExitCode: rec.exitCode,
      ProcessConfig: {
        tty: Boolean(rec.opts.tty),
        entrypoint: rec.opts.cmd[0],
        arguments: rec.opts.cmd.slice(1),
        privileged: false,
        user: rec.opts.user ?? '',
      },
      OpenStdin: Boolean(rec.opts.attachStdin),
      OpenStderr: rec.opts.attachStderr,
      OpenStdout: rec.opts.attachStdout,
      CanRemove: false,
      ContainerID: rec.containerId,
      DetachKeys: rec.opts.detachKeys ?? '',
      Pid: rec.pid,
    });
  });

  router.add('POST', '/exec/{id}/resize', async (ctx) => {
    const rec = sessions.getExec(ctx.params.id!);
    const size = ttySizeFromQuery(ctx.query);
    if (!rec.opts.tty) throw new TbuildError('TB_CONTAINER_STATE', `Exec ${rec.id} has no tty to resize`);
    if (rec.process) await rec.process.resize(size);
    // The client sends its first size as soon as the stream is up, a moment before runc reports
    // the pid; it is applied then. (Holding the answer would delay the client's SIGWINCH watch.)
    else if (rec.running) rec.pendingSize = size;
    else throw new TbuildError('TB_CONTAINER_STATE', `Exec ${rec.id} is not running`);
    sendStatus(ctx.res, 200);
  });
}

/** A writable that passes on to `target` until `drop()`, then swallows what still comes. */
function detachable(target: Writable): { writable: Writable; drop(): void } {
  let dropped = false;
  const writable = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (!dropped && !target.destroyed && !target.writableEnded) target.write(chunk);
      cb();
    },
  });
  return { writable, drop: () => void (dropped = true) };
}
