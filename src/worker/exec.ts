import { cacheMountPath } from '../cache/cache-mounts.js';
import { chmod, chown, cp, mkdir, readFile, rename, rm, writeFile, lstat } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { TbuildError, isTbuildError } from '../errors.js';
import { resolveInRoot } from '../util/confine.js';
import { mountAll } from '../util/mount.js';
import type { ContainerMount, RunSpec } from '../exec/types.js';
import type { ExecMount, ExecOp } from '../solver/graph/types.js';
import type { VertexResult } from '../solver/result.js';
import type { ExecIO } from '../solver/types.js';
import { createServer, type Server } from 'node:net';
import type { SshConnector, OpEnv } from './types.js';
import { commitWork, openView, rand, scratchDir, withView } from './snapshot.js';
import { lockFor } from './lock.js';
import { bindSource } from './bind-source.js';
import { requireEmulation } from '../exec/emulation.js';
import { parsePlatform } from '../util/platform.js';

/** Keeps the last lines of a step's output for the failure message (the full log is on disk). */
class Tail {
  #buf = '';
  push(data: Uint8Array): void {
    this.#buf = (this.#buf + Buffer.from(data).toString('utf8')).slice(-8192);
  }
  lines(n = 10): string[] {
    return this.#buf.split('\n').filter((l, i, a) => l !== '' || i < a.length - 1).slice(-n);
  }
}

function sink(stream: 'stdout' | 'stderr', io: ExecIO, tail: Tail): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      tail.push(chunk);
      io.log(stream, chunk);
      cb();
    },
  });
}

type Release = () => Promise<void>;

/** Cache mount directories in use by running steps of this process (for `sharing=private`). */
const inUse = new Map<string, number>();

/** Cache mounts live outside every snapshot, so they never reach a layer or a key. */
async function cacheDir(env: OpEnv, m: Extract<ExecMount, { type: 'cache' }>, inputs: VertexResult[]): Promise<string> {
  const dir = cacheMountPath(env.parts.root, m.id);
  const existed = await lstat(dir).then(() => true, () => false);
  if (!existed) {
    // made complete beside its final name, then renamed: a crash never leaves a half-seeded cache
    const tmp = `${dir}.new-${rand()}`;
    await mkdir(tmp, { recursive: true });
    try {
      if (m.input !== undefined) {
        const seed = inputs[m.input]!;
        await withView(env, seed, async (root) => {
          const src = await resolveInRoot(root, m.source ?? '/');
          await cp(src, tmp, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true, force: true });
        });
      }
      await chown(tmp, m.uid, m.gid);
      await chmod(tmp, m.mode);
      await rename(tmp, dir).catch(async (err: NodeJS.ErrnoException) => {
        // another step made it first: use theirs
        if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
        await rm(tmp, { recursive: true, force: true });
      });
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
  }
  return dir;
}

async function secretValue(env: OpEnv, id: string): Promise<Buffer | undefined> {
  const s = env.secrets[id];
  if (!s) {
    const fetched = await env.secretLookup?.(id);
    return fetched ? Buffer.from(fetched) : undefined;
  }
  if (s.data) return Buffer.from(s.data);
  if (s.env !== undefined) {
    const v = process.env[s.env];
    return v === undefined ? undefined : Buffer.from(v);
  }
  if (s.src !== undefined) return readFile(s.src);
  return undefined;
}

/** Container mounts for one RUN, with what must be undone afterwards (last acquired, first released). */
async function prepareMounts(
  env: OpEnv,
  op: ExecOp,
  inputs: VertexResult[],
  releases: Release[],
  extraEnv: string[],
): Promise<ContainerMount[]> {
  const out: ContainerMount[] = [];
  for (const m of op.mounts) {
    switch (m.type) {
      case 'bind': {
        let root = env.context.dir;
        if (m.input !== undefined) {
          const view = await openView(env, inputs[m.input]!);
          releases.push(view.release);
          root = view.dir;
        }
        const bound = await bindSource(root, m.source, m.readonly, () => scratchDir(env, 'bw-'));
        releases.push(bound.release);
        out.push({ destination: m.target, type: 'bind', source: bound.path, options: ['rbind', m.readonly ? 'ro' : 'rw'] });
        break;
      }
      case 'cache': {
        let dir = await cacheDir(env, m, inputs);
        if (m.sharing === 'locked') releases.push(await lockFor(dir));
        if (m.sharing === 'private' && (inUse.get(dir) ?? 0) > 0) {
          // private: a step that finds the cache busy gets an empty one of its own, dropped afterwards
          const own = await scratchDir(env, 'c-');
          await chown(own, m.uid, m.gid);
          await chmod(own, m.mode);
          releases.push(() => rm(own, { recursive: true, force: true }));
          dir = own;
        }
        const used = dir;
        inUse.set(used, (inUse.get(used) ?? 0) + 1);
        releases.push(async () => {
          const n = (inUse.get(used) ?? 1) - 1;
          if (n > 0) inUse.set(used, n);
          else inUse.delete(used);
        });
        out.push({ destination: m.target, type: 'bind', source: dir, options: ['rbind', m.readonly ? 'ro' : 'rw'] });
        break;
      }
      case 'tmpfs':
        out.push({
          destination: m.target,
          type: 'tmpfs',
          source: 'tmpfs',
          options: ['nosuid', 'nodev', 'mode=1777', ...(m.size ? [`size=${m.size}`] : [])],
        });
        break;
      case 'secret': {
        const value = await secretValue(env, m.id);
        if (value === undefined) {
          if (m.required) throw new TbuildError('TB_SECRET_NOT_FOUND', `secret ${m.id} not found`);
          break;
        }
        if (m.env) extraEnv.push(`${m.env}=${value.toString('utf8')}`);
        if (m.target) {
          const dir = await scratchDir(env, 's-');
          // On a tmpfs of its own: the value never reaches a disk, and a crash leaves only a
          // mount, which the next build's sweep (or `system verify --repair`) unmounts.
          const unmountSecret = await mountAll([{ type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', 'mode=0700', `size=${Math.max(4096, value.length + 4096)}`] }], dir);
          releases.push(async () => {
            await unmountSecret();
            await rm(dir, { recursive: true, force: true });
          });
          const file = join(dir, 'secret');
          await writeFile(file, value, { mode: m.mode });
          await chown(file, m.uid, m.gid);
          await chmod(file, m.mode);
          out.push({ destination: m.target, type: 'bind', source: file, options: ['rbind', 'ro'] });
        }
        break;
      }
      case 'ssh': {
        const connect = env.sshAgent?.(m.id);
        if (!connect) {
          if (m.required) throw new TbuildError('TB_SSH_NOT_FOUND', `no SSH agent "${m.id}" was forwarded (--ssh ${m.id})`);
          break;
        }
        const dir = await scratchDir(env, 'ssh-');
        const sock = join(dir, 'agent.sock');
        const server = await forwardSocket(sock, connect);
        releases.push(async () => {
          await new Promise<void>((r) => server.close(() => r()));
          await rm(dir, { recursive: true, force: true });
        });
        await chown(sock, m.uid, m.gid);
        await chmod(sock, m.mode);
        out.push({ destination: m.target, type: 'bind', source: sock, options: ['rbind'] });
        break;
      }
    }
  }
  const byDir = new Map<string, typeof op.inline>();
  for (const f of op.inline) byDir.set(f.dir, [...(byDir.get(f.dir) ?? []), f]);
  for (const [dest, files] of byDir) {
    const dir = await scratchDir(env, 'i-');
    releases.push(() => rm(dir, { recursive: true, force: true }));
    for (const f of files) await writeFile(join(dir, f.name), f.content, { mode: f.mode });
    await chmod(dir, 0o755);
    out.push({ destination: dest, type: 'bind', source: dir, options: ['rbind', 'ro'] });
  }
  return out;
}

/** A unix socket whose every connection is piped to a fresh connection to the agent. */
async function forwardSocket(path: string, connect: SshConnector): Promise<Server> {
  const server = createServer((conn) => {
    const agent = connect();
    conn.on('error', () => agent.destroy());
    agent.on('error', () => conn.destroy());
    conn.pipe(agent).pipe(conn);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  server.unref();
  return server;
}

function withProxies(envList: string[], proxies: string[]): string[] {
  const has = new Set(envList.map((e) => e.slice(0, e.indexOf('='))));
  return [...envList, ...proxies.filter((p) => !has.has(p.slice(0, p.indexOf('='))))];
}

/**
 * The RUN step's network: `default` is a namespace on the default bridge, made ready while the
 * mounts are prepared (and usually taken from the network manager's pool of idle ones).
 */
async function runNetwork(env: OpEnv, op: ExecOp, releases: Release[]): Promise<Pick<RunSpec, 'network' | 'dns' | 'extraHosts'>> {
  // `host-gateway` is the host as the step sees it: its address on the bridge, or loopback on the host's network.
  const hosts = (gateway: string | undefined) =>
    op.extraHosts?.length
      ? {
          extraHosts: op.extraHosts.map((h) => {
            if (!h.endsWith(':host-gateway')) return h;
            if (!gateway) throw new TbuildError('TB_INVALID_ARGUMENT', `--add-host ${h}: host-gateway needs a network (this RUN has --network=none)`);
            return `${h.slice(0, -'host-gateway'.length)}${gateway}`;
          }),
        }
      : {};
  if (op.network !== 'default') return { network: op.network, ...hosts(op.network === 'host' ? '127.0.0.1' : undefined) };
  if (!env.parts.network) throw new TbuildError('TB_NETWORK_BACKEND_MISSING', 'this engine has no network manager: RUN needs --network=none or host');
  const att = await env.parts.network.acquireDefault();
  releases.push(() => att.release());
  // the engine's `dns` setting stands in for the host's resolvers where the network has no DNS of its own
  const dns = att.dnsServers.length ? { servers: att.dnsServers } : (env.parts.dns ?? { servers: [] });
  return { network: { netns: att.netnsPath }, dns, ...hosts(att.hostGateway) };
}

/** RUN: the command in a container on a writable snapshot of input 0; the upperdir becomes the layer. */
export async function execRun(env: OpEnv, op: ExecOp, inputs: VertexResult[], io: ExecIO): Promise<VertexResult> {
  if (op.platform) await requireEmulation(parsePlatform(op.platform));
  const tail = new Tail();
  const processState = debugState(env, op, inputs);
  return commitWork(env, inputs[0]!, runIn(env, op, inputs, io, tail), { keepFailed: (err) => isTbuildError(err, 'TB_EXEC_NONZERO') }).then(
    (result) => ({ ...result, debug: processState }),
    (err: unknown) => {
      if (isTbuildError(err) && err.details.debug) Object.assign(err.details.debug as object, processState);
      throw err;
    },
  );
}

/**
 * What `tbuild debug` starts a shell with: the step's own settings (never a secret's value: secrets
 * given as env are not in op.env) and its mounts as they can be made again — a cache by its
 * directory, a tmpfs, a bind by the layers of the stage it reads or the context directory; secrets
 * and ssh agents only by id. Also for a step found in the cache (`Ops.hitState`).
 */
export function debugState(env: OpEnv, op: ExecOp, inputs: VertexResult[]): Record<string, unknown> {
  const mounts = op.mounts.map((m) => {
    switch (m.type) {
      case 'cache':
        return { type: 'cache', target: m.target, dir: cacheMountPath(env.parts.root, m.id), readonly: m.readonly };
      case 'tmpfs':
        return { type: 'tmpfs', target: m.target, ...(m.size ? { size: m.size } : {}) };
      case 'bind': {
        const from = m.input === undefined ? { context: env.context.dir } : { layers: inputs[m.input]!.layers.map((l) => ({ diffId: l.diffId, size: l.size, snapshot: l.snapshot })) };
        return { type: 'bind', target: m.target, source: m.source, readonly: m.readonly, ...from };
      }
      case 'secret':
        return { type: 'secret', id: m.id, ...(m.target ? { target: m.target } : {}), ...(m.env ? { env: m.env } : {}) };
      case 'ssh':
        return { type: 'ssh', id: m.id, target: m.target };
    }
  });
  return { env: op.env, cwd: op.cwd, user: op.user, args: op.args, ...(mounts.length ? { mounts } : {}) };
}

function runIn(env: OpEnv, op: ExecOp, inputs: VertexResult[], io: ExecIO, tail: Tail): (rootfs: string) => Promise<void> {
  return async (rootfs) => {
    const releases: Release[] = [];
    try {
      const extraEnv: string[] = [];
      // allSettled: whichever half succeeded has registered its release before a failure is thrown
      const [m, n] = await Promise.allSettled([prepareMounts(env, op, inputs, releases, extraEnv), runNetwork(env, op, releases)]);
      if (m.status === 'rejected') throw m.reason;
      if (n.status === 'rejected') throw n.reason;
      const [mounts, net] = [m.value, n.value];
      const status = await env.parts.executor.run(
        `tb-${rand()}`,
        {
          rootfs,
          process: { args: op.args, env: withProxies([...op.env, ...extraEnv], env.proxyEnv), cwd: op.cwd, user: op.user },
          mounts,
          ...net,
          hostname: 'buildkitsandbox',
          hostsStyle: 'buildkit',
          ...(env.runResources ? { resources: env.runResources } : {}),
          ...(op.security === 'insecure' || env.runLimits ? { security: { ...(op.security === 'insecure' ? { privileged: true } : {}), ...env.runLimits } } : {}),
        },
        { stdout: sink('stdout', io, tail), stderr: sink('stderr', io, tail) },
        io.signal,
      );
      if (status.exitCode !== 0) {
        throw new TbuildError(
          'TB_EXEC_NONZERO',
          // Quoted as BuildKit quotes it (Go's %q), so quotes inside the command stay unambiguous.
          `process ${JSON.stringify(op.args.join(' '))} did not complete successfully: exit code: ${status.exitCode}${status.oomKilled ? ' (killed: out of memory, the build\'s memory limit)' : ''}`,
          { details: { exitCode: status.exitCode, signal: status.signal, outputTail: tail.lines() } },
        );
      }
    } finally {
      for (const r of releases.reverse()) await r().catch(() => {});
    }
  };
}
