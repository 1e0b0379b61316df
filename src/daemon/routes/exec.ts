import type { Router } from '../router.js';
import type { DaemonServices } from '../types.js';
import type { ContainerSessions } from '../sessions.js';
import { TbuildError } from '../../errors.js';
import { badRequest, readJson, sendJson, sendStatus } from '../http.js';
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
    const rec = sessions.createExec(c.id, {
      cmd: cmd as string[],
      env,
      workingDir: typeof body.WorkingDir === 'string' && body.WorkingDir ? body.WorkingDir : undefined,
      user: typeof body.User === 'string' && body.User ? body.User : undefined,
      tty: Boolean(body.Tty),
      attachStdin: Boolean(body.AttachStdin),
      attachStdout: body.AttachStdout !== false,
      attachStderr: body.AttachStderr !== false,
    });
    sendJson(ctx.res, 201, { Id: rec.id });
  });

  router.add('POST', '/exec/{id}/start', async (ctx) => {
    const rec = sessions.getExec(ctx.params.id!);
    const body = await readUpgradeJson(ctx);
    if (rec.running || rec.exitCode !== null) throw new TbuildError('TB_CONTAINER_STATE', `Error: Exec command ${rec.id} has already run`);
    rec.running = true;
    const tty = Boolean(body.Tty ?? rec.opts.tty);
    const finish = (code: number) => {
      rec.running = false;
      rec.exitCode = code;
    };
    if (body.Detach) {
      sendStatus(ctx.res, 200);
      containers.exec(rec.containerId, { ...rec.opts, tty, attachStdin: false }, {}).then(
        (r) => finish(r.exitCode),
        () => finish(126),
      );
      return;
    }
    const stream = hijack(ctx, tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream');
    const stdout = rec.opts.attachStdout ? (tty ? stream.output : framedWriter(stream.output, STDOUT)) : undefined;
    const stderr = rec.opts.attachStderr ? (tty ? stream.output : framedWriter(stream.output, STDERR)) : undefined;
    const stdin = rec.opts.attachStdin ? stream.input : undefined;
    if (!stdin) stream.input.resume();
    try {
      const { exitCode } = await containers.exec(rec.containerId, { ...rec.opts, tty }, { stdin, stdout, stderr });
      finish(exitCode);
    } catch (err) {
      finish(126);
      const text = `${err instanceof Error ? err.message : String(err)}\n`;
      if (tty) stream.output.write(text);
      else framedWriter(stream.output, STDERR).write(text);
    } finally {
      await new Promise((r) => setImmediate(r));
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
      DetachKeys: '',
      Pid: rec.pid,
    });
  });

  router.add('POST', '/exec/{id}/resize', async (ctx) => {
    sessions.getExec(ctx.params.id!);
    sendStatus(ctx.res, 200);
  });
}
