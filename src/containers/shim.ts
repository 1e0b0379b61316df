import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { mountAll } from '../util/mount.js';
import { createRuncExecutor } from '../exec/runc.js';
import { isTbuildError } from '../errors.js';
import type { ExitStatus } from '../exec/types.js';
import { AttachServer, attachSocketPath, FRAME_STDERR, FRAME_STDOUT } from './attach.js';
import { JsonLogWriter } from './logs.js';
import { containerDir, readConfig, readState, writeState, type StartRequest } from './store.js';

/**
 * One container's monitor (containerd's shim model), running in its own session so the container
 * outlives whoever started it: mounts the rootfs, runs `runc run` in the foreground, copies output
 * into the json-file log and to attached clients, records the exit status in state.json, unmounts.
 */
export async function runShim(root: string, id: string): Promise<void> {
  const dir = containerDir(root, id);
  const cfg = await readConfig(root, id);
  if (!cfg) throw new Error(`container ${id} has no config`);
  const req = JSON.parse(await readFile(join(dir, 'start.json'), 'utf8')) as StartRequest;
  const rt = cfg.runtime;
  const rootfs = join(dir, 'rootfs');
  const state = await readState(root, id);
  const server = new AttachServer(attachSocketPath(dir), rt.stdinOnce);
  let release: (() => Promise<void>) | undefined;
  let status: ExitStatus | undefined;
  const log = await JsonLogWriter.open(cfg.logPath);
  try {
    await server.listen();
    await mkdir(rootfs, { recursive: true });
    release = await mountAll(req.rootfsMounts, rootfs);
    if (req.waitAttach) {
      await Promise.race([server.firstClient, new Promise((r) => setTimeout(r, 30_000))]);
    }
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    stdout.on('data', (d: Buffer) => {
      log.write('stdout', d);
      server.send(FRAME_STDOUT, d);
    });
    stderr.on('data', (d: Buffer) => {
      log.write('stderr', d);
      server.send(FRAME_STDERR, d);
    });
    const executor = createRuncExecutor({ root, runtime: req.runtime });
    const env = cfg.env.some((e) => e.startsWith('HOSTNAME=')) ? cfg.env : [`HOSTNAME=${rt.hostname}`, ...cfg.env];
    const c = await executor.start(
      id,
      {
        rootfs,
        process: { args: [cfg.path, ...cfg.args], env, cwd: cfg.workingDir || '/', user: cfg.user, tty: rt.tty },
        mounts: rt.mounts,
        network: rt.network,
        hostname: rt.hostname,
        ...(rt.resources ? { resources: rt.resources } : {}),
      },
      { stdout, stderr, ...(rt.openStdin ? { stdin: server.stdin } : {}) },
    );
    await writeState(root, id, {
      ...state,
      status: 'running',
      pid: c.pid,
      shimPid: process.pid,
      error: '',
      exitCode: 0,
      oomKilled: false,
      startedAt: new Date().toISOString(),
      finishedAt: '0001-01-01T00:00:00Z',
    });
    status = await c.wait();
    await log.close();
    const now = await readState(root, id);
    await writeState(root, id, {
      ...now,
      status: 'exited',
      pid: 0,
      exitCode: status.exitCode,
      oomKilled: Boolean(status.oomKilled),
      finishedAt: new Date().toISOString(),
    });
  } catch (err) {
    await log.close().catch(() => {});
    const now = await readState(root, id);
    status = { exitCode: 128 };
    await writeState(root, id, {
      ...now,
      status: now.status === 'running' ? 'exited' : 'created',
      pid: 0,
      exitCode: 128,
      error: (err as Error).message,
      ...(isTbuildError(err) ? { errorCode: err.code } : {}),
      finishedAt: new Date().toISOString(),
    });
  } finally {
    await server.finish(status ?? { exitCode: 128 }).catch(() => {});
    if (release) await release().catch(() => {});
    await rm(join(dir, 'start.json'), { force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [root, id] = process.argv.slice(2);
  runShim(root!, id!).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`tbuild shim: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
