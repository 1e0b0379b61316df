import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { appendFileSync, existsSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { mountAll } from '../util/mount.js';
import { createRuncExecutor } from '../exec/runc.js';
import { isTbuildError, TbuildError } from '../errors.js';
import { resolveInRoot } from '../util/confine.js';
import type { ContainerMount, RunSpec } from '../exec/types.js';
import type { Attachment } from '../network/types.js';
import { openNetworkManager } from '../network/manager.js';
import type { CreateContainerOptions } from './types.js';

type RestartPolicy = NonNullable<CreateContainerOptions['restartPolicy']>;
import type { ExitStatus } from '../exec/types.js';
import { withTerm } from './config.js';
import { monitorHealth } from './health.js';
import { AttachServer, attachSocketPath, FRAME_STDERR, FRAME_STDOUT } from './attach.js';
import { JsonLogWriter } from './logs.js';
import { processStart } from '../util/process.js';
import { containerDir, STANDBY_ARG, readConfig, readState, writeState, STOP_MARKER, type RuntimeConfig, type StartRequest, type StoredConfig } from './store.js';

const execFileP = promisify(execFile);

export function shouldRestart(policy: RestartPolicy | undefined, exitCode: number, restarts: number, stopRequested: boolean): boolean {
  if (!policy || stopRequested) return false;
  switch (policy.name) {
    case 'always':
    case 'unless-stopped':
      return true;
    case 'on-failure':
      return exitCode !== 0 && (!policy.maximumRetryCount || restarts < policy.maximumRetryCount);
    default:
      return false;
  }
}

async function waitForStopOr(marker: string, ms: number): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end && !existsSync(marker); ) {
    await new Promise((r) => setTimeout(r, Math.min(50, end - Date.now())));
  }
}

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
  await rm(join(dir, 'start.json'), { force: true });
  const rt = cfg.runtime;
  const rootfs = join(dir, 'rootfs');
  const server = new AttachServer(attachSocketPath(dir), { stdinOnce: rt.stdinOnce, tty: rt.tty });
  let release: (() => Promise<void>) | undefined;
  let network: Attachment | undefined;
  let status: ExitStatus | undefined;
  const log = await JsonLogWriter.open(cfg.logPath);
  try {
    await server.listen();
    await mkdir(rootfs, { recursive: true });
    // the network is plumbed while the rootfs is mounted; it lives until the container stops for good
    const [mounted, attached] = await Promise.allSettled([mountAll(req.rootfsMounts, rootfs), attachNetwork(root, cfg)]);
    if (attached.status === 'fulfilled') network = attached.value;
    if (mounted.status === 'fulfilled') release = mounted.value;
    if (mounted.status === 'rejected') throw mounted.reason;
    if (attached.status === 'rejected') throw attached.reason;
    await populateVolumes(root, rootfs, rt.mounts.filter((m) => !rt.noCopy?.includes(m.destination)));
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
    const executor = createRuncExecutor({ root, runtime: req.runtime, ...(req.security ? { security: req.security } : {}) });
    const env = withTerm(cfg.env.some((e) => e.startsWith('HOSTNAME=')) ? cfg.env : [`HOSTNAME=${rt.hostname}`, ...cfg.env], rt.tty);
    for (let backoff = 100; ; ) {
      const c = await executor.start(
        id,
        {
          rootfs,
          process: {
            args: [cfg.path, ...cfg.args],
            env,
            cwd: cfg.workingDir || '/',
            user: cfg.user,
            tty: rt.tty,
            ...(rt.tty && cfg.options.consoleSize ? { consoleSize: cfg.options.consoleSize } : {}),
          },
          mounts: rt.mounts,
          hostname: rt.hostname,
          ...(rt.netContainer ? await joinedNetwork(root, rt.netContainer) : runNetwork(rt, network)),
          ...(rt.resources ? { resources: rt.resources } : {}),
          ...(rt.readonlyRootfs ? { readonlyRootfs: true } : {}),
          ...(rt.security ? { security: rt.security } : {}),
        },
        { stdout, stderr, ...(rt.openStdin ? { stdin: server.stdin } : {}) },
      );
      const startedAt = Date.now();
      await writeState(root, id, {
        ...(await readState(root, id)),
        status: 'running',
        pid: c.pid,
        shimPid: process.pid,
        shimStart: processStart(process.pid),
        error: '',
        exitCode: 0,
        oomKilled: false,
        startedAt: new Date(startedAt).toISOString(),
        finishedAt: '0001-01-01T00:00:00Z',
      });
      const health = rt.healthcheck
        ? monitorHealth({ root, id, rootfs, runtime: executor, config: rt.healthcheck, process: { env, cwd: cfg.workingDir || '/', user: cfg.user } })
        : undefined;
      status = await c.wait();
      await health?.stop();
      const now = await readState(root, id);
      // read afresh: `docker update --restart` may have changed the policy while it ran
      const policy = (await readConfig(root, id))?.options.restartPolicy ?? cfg.options.restartPolicy;
      if (!shouldRestart(policy, status.exitCode, now.restartCount, existsSync(join(dir, STOP_MARKER)))) break;
      await writeState(root, id, {
        ...now,
        status: 'restarting',
        pid: 0,
        exitCode: status.exitCode,
        oomKilled: Boolean(status.oomKilled),
        finishedAt: new Date().toISOString(),
        restartCount: now.restartCount + 1,
      });
      // Docker's backoff: doubling from 100 ms, reset once a run lasted 10 s.
      backoff = Date.now() - startedAt >= 10_000 ? 100 : Math.min(backoff * 2, 60_000);
      await waitForStopOr(join(dir, STOP_MARKER), backoff);
      if (existsSync(join(dir, STOP_MARKER))) break;
    }
    // Unmount and release the network (independent, so at once) before recording the exit:
    // whoever sees `exited` may mount the snapshot itself, or publish the same ports.
    const [unmounted, released] = await Promise.allSettled([log.close().then(() => release!()), network?.release()]);
    // what failed is tried once more on the way out (catch/finally below)
    if (unmounted.status === 'fulfilled') release = undefined;
    if (released.status === 'fulfilled') network = undefined;
    if (unmounted.status === 'rejected') throw unmounted.reason;
    if (released.status === 'rejected') throw released.reason;
    const now = await readState(root, id);
    await writeState(root, id, {
      ...now,
      status: 'exited',
      pid: 0,
      exitCode: status.exitCode,
      oomKilled: Boolean(status.oomKilled),
      finishedAt: now.status === 'restarting' ? now.finishedAt : new Date().toISOString(),
    });
  } catch (err) {
    await log.close().catch(() => {});
    if (release) await release().catch(() => {});
    release = undefined;
    const now = await readState(root, id);
    status = { exitCode: 128 };
    await writeState(root, id, {
      ...now,
      status: now.status === 'running' || now.status === 'restarting' ? 'exited' : 'created',
      pid: 0,
      exitCode: 128,
      error: (err as Error).message,
      ...(isTbuildError(err) ? { errorCode: err.code } : {}),
      finishedAt: new Date().toISOString(),
    });
  } finally {
    await server.finish(status ?? { exitCode: 128 }).catch(() => {});
    if (release) await release().catch(() => {});
    if (network) await network.release().catch(() => {});
  }
}

/** Attach the container to its networks (owned by this shim: `reconcile` releases them if it dies). */
async function attachNetwork(root: string, cfg: StoredConfig): Promise<Attachment | undefined> {
  const a = cfg.runtime.attach;
  if (!a) return undefined;
  const networks = await openNetworkManager({ root });
  return networks.attach({ id: cfg.id, name: cfg.name, networks: a.networks, ports: a.ports });
}

/**
 * `--network container:CTR`: the namespace of that container's process (whichever way it got
 * it: attached, its own, or the host's) and its etc files, read at each start since it may have
 * restarted. A chain (CTR itself joined another) leads to the container that owns the namespace.
 */
async function joinedNetwork(root: string, id: string, depth = 0): Promise<Pick<RunSpec, 'network' | 'hostname' | 'etcFilesFrom'>> {
  const [other, s] = await Promise.all([readConfig(root, id), readState(root, id).catch(() => undefined)]);
  if (!other) throw new TbuildError('TB_CONTAINER_NOT_FOUND', `No such container: ${id}`);
  if (!s || s.status !== 'running' || !s.pid) throw new TbuildError('TB_CONTAINER_STATE', `cannot join network of a non running container: ${id}`);
  if (other.runtime.netContainer && depth < 8) return joinedNetwork(root, other.runtime.netContainer, depth + 1);
  return {
    network: other.runtime.network === 'host' ? 'host' : { netns: `/proc/${s.pid}/ns/net` },
    hostname: other.runtime.hostname,
    etcFilesFrom: join(root, 'exec', id),
  };
}

/** The RunSpec's network part: the attached namespace, /etc/hosts and resolv.conf as Docker writes them. */
function runNetwork(rt: RuntimeConfig, att: Attachment | undefined): Pick<RunSpec, 'network' | 'address' | 'dns' | 'extraHosts'> {
  const gateway = att?.hostGateway;
  const extraHosts = (rt.extraHosts ?? []).map((h) => {
    if (!h.endsWith(':host-gateway')) return h;
    if (!gateway) throw new TbuildError('TB_INVALID_ARGUMENT', `--add-host ${h}: host-gateway needs a bridge network`);
    return `${h.slice(0, -'host-gateway'.length)}${gateway}`;
  });
  const dns = rt.dns || att ? { servers: rt.dns?.servers ?? att?.dnsServers ?? [], ...(rt.dns?.search ? { search: rt.dns.search } : {}), ...(rt.dns?.options ? { options: rt.dns.options } : {}) } : undefined;
  return {
    network: att ? { netns: att.netnsPath } : rt.network,
    ...(att?.endpoints[0] ? { address: att.endpoints[0].ipAddress } : {}),
    ...(dns ? { dns } : {}),
    ...(extraHosts.length ? { extraHosts } : {}),
  };
}

/**
 * As Docker does, a volume that is still empty gets a copy of what the image has at its mount
 * point (owners and modes kept), so `VOLUME /data` after writing /data keeps that content.
 */
async function populateVolumes(root: string, rootfs: string, mounts: ContainerMount[]): Promise<void> {
  const volumes = join(root, 'volumes') + '/';
  for (const m of mounts) {
    if (m.type !== 'bind' || !m.source.startsWith(volumes) || (await readdir(m.source)).length) continue;
    const src = await resolveInRoot(rootfs, m.destination);
    if (!(await stat(src).catch(() => undefined))?.isDirectory()) continue;
    if (!(await readdir(src)).length) continue;
    await execFileP('cp', ['-a', '--', `${src}/.`, m.source]);
  }
}

/** The container id a standby shim is given (one line on stdin); undefined when its starter went away. */
function assignment(): Promise<string | undefined> {
  return new Promise((resolve) => {
    let buf = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      process.stdin.destroy();
      const id = buf.slice(0, nl).trim();
      resolve(/^[a-f0-9]{64}$/.test(id) ? id : undefined);
    });
    process.stdin.once('end', () => resolve(undefined));
    process.stdin.once('error', () => resolve(undefined));
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [root, arg] = process.argv.slice(2);
  const run = (id: string, standby: boolean) =>
    runShim(root!, id).then(
      () => process.exit(0),
      (err: unknown) => {
        const text = `tbuild shim: ${(err as Error).stack ?? String(err)}\n`;
        // a standby shim's stdio leads nowhere: its failure goes where a cold shim's would
        if (standby) appendFileSync(join(containerDir(root!, id), 'shim.log'), text);
        else process.stderr.write(text);
        process.exit(1);
      },
    );
  if (arg === STANDBY_ARG) {
    void assignment().then((id) => (id ? run(id, true) : process.exit(0)));
  } else {
    void run(arg!, false);
  }
}
