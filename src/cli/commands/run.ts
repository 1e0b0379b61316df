import type { Command } from 'commander';
import { collect } from '../options.js';
import { openTerminal, proxySignals } from '../terminal.js';
import { parseDetachKeys } from '../../util/detach-keys.js';
import type { CliContext } from '../context.js';
import type { ContainerRecord, CreateContainerOptions } from '../../containers/types.js';
import type { Resources } from '../../exec/types.js';
import { TbuildError, isTbuildError } from '../../errors.js';
import { envFlag, healthFlags, parseRestart, parseSize, parseVolume, stopTimeoutFlag, type HealthFlags } from './container-flags.js';
import { checkAddHost, parsePublish } from '../../network/ports.js';
import { addSecurityFlags, securityFromFlags, type SecurityFlags } from './security-flags.js';
import { parsePlatform, platformMismatchWarning, platformOfConfig, samePlatform } from '../../util/platform.js';

/** `tbuild run` (= `container run`): create, start, attach the local terminal, wait, honour --rm. */

interface RunFlags extends SecurityFlags, HealthFlags {
  rm?: boolean;
  platform?: string;
  detach?: boolean;
  name?: string;
  env: string[];
  workdir?: string;
  user?: string;
  network?: string;
  memory?: string;
  cpus?: string;
  cpuShares?: string;
  pidsLimit?: string;
  entrypoint?: string;
  volume: string[];
  volumesFrom: string[];
  detachKeys?: string;
  stopSignal?: string;
  stopTimeout?: string;
  interactive?: boolean;
  tty?: boolean;
  hostname?: string;
  label: string[];
  restart?: string;
  publish: string[];
  publishAll?: boolean;
  dns: string[];
  dnsSearch: string[];
  dnsOption: string[];
  addHost: string[];
  ip?: string;
  networkAlias: string[];
  link: string[];
  pull?: string;
  quiet?: boolean;
}

function resources(f: RunFlags): Resources | undefined {
  const r: Resources = {};
  if (f.memory) r.memory = parseSize(f.memory);
  if (f.cpus) {
    const n = Number(f.cpus);
    if (!(n > 0)) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid argument "${f.cpus}" for "--cpus" flag`);
    r.cpuPeriod = 100_000;
    r.cpuQuota = Math.round(n * 100_000);
  }
  if (f.cpuShares) r.cpuShares = Number(f.cpuShares);
  if (f.pidsLimit) r.pidsLimit = Number(f.pidsLimit);
  return Object.keys(r).length ? r : undefined;
}

/**
 * `run --pull`: Docker's order. With `missing` an image that is not stored is pulled (progress on
 * stderr, after "Unable to find image … locally"); an id never is.
 */
async function pullForRun(ctx: CliContext, image: string, policy: string, platform?: string, quiet?: boolean): Promise<void> {
  if (policy === 'never' || /^(sha256:)?[0-9a-f]{12,64}$/.test(image)) return;
  const engine = await ctx.engine();
  if (policy === 'missing') {
    const stored = await engine.images.get(image);
    // with --platform, a stored image of another platform is as good as missing (Docker pulls that platform)
    const has = stored ? platformOfConfig(stored.config) : undefined;
    if (stored && (!platform || !has || samePlatform(has, parsePlatform(platform)))) return;
    ctx.stderr.write(`Unable to find image '${image}' locally\n`);
  }
  const [{ cliRegistryAuth }, { createTransferRenderer }] = await Promise.all([import('./registry.js'), import('../progress/transfer.js')]);
  const render = createTransferRenderer(ctx.stderr, quiet);
  const auth = await cliRegistryAuth(image);
  await engine.registries.pull(image, { onProgress: (p) => render.event(p), ...(auth ? { auth } : {}), ...(platform ? { platform } : {}) });
  render.done();
}

/** The flags `run` and `create` share (Docker's container options). */
function containerFlags(cmd: Command): Command {
  return addSecurityFlags(cmd)
    .option('--rm', 'remove the container when it exits')
    .option('--name <name>', 'container name')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable', collect, [])
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('-u, --user <user>', 'user[:group] to run as')
    .option('--network <mode>', 'bridge (the default), none (lo only), host, container:CTR (share its network) or a network name')
    .option('-p, --publish <spec>', 'publish a port: [IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp]', collect, [])
    .option('-P, --publish-all', 'publish every exposed port on a free host port')
    .option('--dns <ip>', 'nameserver for /etc/resolv.conf', collect, [])
    .option('--dns-search <domain>', 'search domain for /etc/resolv.conf', collect, [])
    .option('--dns-option <opt>', 'option for /etc/resolv.conf', collect, [])
    .option('--add-host <host:ip>', 'add an /etc/hosts line (ip may be host-gateway)', collect, [])
    .option('--ip <address>', 'IPv4 address on the network')
    .option('--network-alias <name>', 'DNS alias on a user network', collect, [])
    .option('--link <name>', 'legacy container link (refused: use a user network)', collect, [])
    .option('-m, --memory <size>', 'memory limit (e.g. 64m)')
    .option('--cpus <n>', 'number of CPUs (quota)')
    .option('--cpu-shares <n>', 'relative CPU weight')
    .option('--pids-limit <n>', 'maximum number of processes')
    .option('--entrypoint <cmd>', 'override the image entrypoint')
    .option('-v, --volume <spec>', 'bind mount or volume: SRC:DST[:ro], or /DST for an anonymous volume', collect, [])
    .option('--volumes-from <container[:ro|:rw]>', 'mount the volumes and binds of another container', collect, [])
    .option('--health-cmd <command>', 'command to run to check health (through /bin/sh -c)')
    .option('--health-interval <duration>', 'time between health checks (e.g. 30s)')
    .option('--health-timeout <duration>', 'longest a health check may run')
    .option('--health-retries <n>', 'failures in a row that make it unhealthy')
    .option('--health-start-period <duration>', 'start-up time during which failures do not count')
    .option('--health-start-interval <duration>', 'time between checks during the start period')
    .option('--no-healthcheck', "disable the image's HEALTHCHECK")
    .option('-i, --interactive', 'keep stdin open and forward it')
    .option('-t, --tty', 'allocate a pseudo-TTY')
    .option('--stop-signal <signal>', 'signal that stops the container (default: the image\'s STOPSIGNAL, else SIGTERM)')
    .option('--stop-timeout <seconds>', 'seconds to wait after the stop signal before SIGKILL (default 10)')
    .option('-h, --hostname <name>', 'container host name')
    .option('-l, --label <k=v>', 'set a label', collect, [])
    .option('--restart <policy>', 'no, always, unless-stopped, on-failure[:max-retries]')
    .option('--pull <policy>', 'pull the image before running: missing (default), always, never', 'missing')
    .option('--platform <os/arch[/variant]>', 'run the image of this platform (pulled if the stored one is another\'s)')
    .option('-q, --quiet', 'suppress the pull output')
    .passThroughOptions();
}

/** `run`/`create` flags → what the container manager creates. */
function createOptions(image: string, command: string[], f: RunFlags): CreateContainerOptions {
  if (f.link.length) throw new TbuildError('TB_NOT_IMPLEMENTED', '--link is not supported: put the containers on a user network (tbuild network create), where they resolve each other by name');
  const sec = securityFromFlags(f);
  const mounts = [...f.volume.map(parseVolume), ...sec.tmpfs];
  return {
    image,
    ...(f.platform ? { platform: f.platform } : {}),
    ...(sec.security ? { security: sec.security } : {}),
    ...(sec.readonlyRootfs ? { readonlyRootfs: true } : {}),
    ...(command.length ? { cmd: command } : {}),
    ...(f.entrypoint !== undefined ? { entrypoint: f.entrypoint ? [f.entrypoint] : [''] } : {}),
    ...(f.name ? { name: f.name } : {}),
    ...(f.env.length ? { env: f.env.map(envFlag) } : {}),
    ...(f.workdir ? { workingDir: f.workdir } : {}),
    ...(f.user !== undefined ? { user: f.user } : {}),
    ...(f.hostname ? { hostname: f.hostname } : {}),
    network: f.network ?? 'default',
    ...(f.publish.length ? { ports: f.publish.flatMap(parsePublish) } : {}),
    ...(f.publishAll ? { publishAll: true } : {}),
    ...(f.dns.length ? { dns: f.dns } : {}),
    ...(f.dnsSearch.length ? { dnsSearch: f.dnsSearch } : {}),
    ...(f.dnsOption.length ? { dnsOptions: f.dnsOption } : {}),
    ...(f.addHost.length ? { extraHosts: f.addHost.map(checkAddHost) } : {}),
    ...(f.ip ? { ip: f.ip } : {}),
    ...(f.networkAlias.length ? { networkAliases: f.networkAlias } : {}),
    ...(mounts.length ? { mounts } : {}),
    ...(f.volumesFrom.length ? { volumesFrom: f.volumesFrom } : {}),
    ...(healthFlags(f) ? { healthcheck: healthFlags(f)! } : {}),
    ...(f.stopSignal ? { stopSignal: f.stopSignal } : {}),
    ...(f.stopTimeout !== undefined ? { stopTimeout: stopTimeoutFlag(f.stopTimeout) } : {}),
    tty: Boolean(f.tty),
    openStdin: Boolean(f.interactive),
    stdinOnce: Boolean(f.interactive) && !f.detach,
    autoRemove: Boolean(f.rm),
    ...(f.restart ? { restartPolicy: parseRestart(f.restart) } : {}),
    ...(resources(f) ? { resources: resources(f)! } : {}),
    ...(f.label.length ? { labels: Object.fromEntries(f.label.map((l) => [l.split('=')[0]!, l.split('=').slice(1).join('=')])) } : {}),
  };
}

export function addRun(program: Command, ctx: CliContext): void {
  containerFlags(
    program
      .command('run')
      .description('create and run a new container from an image (default network: the bridge, NAT out)')
      .addHelpText('after', '\nExamples:\n  tbuild run --rm -it busybox sh\n  tbuild run -d -p 8080:80 --name web nginx\n  tbuild run --rm -v data:/data -e MODE=test app:dev ./run-tests\n')
      .argument('<image>')
      .argument('[command...]')
      .option('-d, --detach', 'run in the background and print the container id')
      .option('--detach-keys <keys>', 'key sequence that detaches from the container (default ctrl-p,ctrl-q)'),
  )
    .action(async (image: string, command: string[], f: RunFlags) => {
      const opts = createOptions(image, command, f);
      checkPullPolicy(f.pull);
      const mgr = (await ctx.engine()).containers;
      if (f.detach && f.detachKeys) parseDetachKeys(f.detachKeys); // a typo is an error even where nothing attaches
      const term = f.detach ? undefined : openTerminal({ tty: Boolean(f.tty), interactive: Boolean(f.interactive), detachKeys: f.detachKeys ?? ctx.config.detachKeys });
      if (term?.size) opts.consoleSize = term.size;
      let rec: ContainerRecord | undefined;
      try {
        rec = await pullAndCreate(ctx, opts, f);
        if (f.detach) {
          await mgr.start(rec.id);
          ctx.stdout.write(`${rec.id}\n`);
          return;
        }
        await mgr.start(rec.id, {
          stdout: ctx.stdout as NodeJS.WritableStream & import('node:stream').Writable,
          stderr: ctx.stderr as NodeJS.WritableStream & import('node:stream').Writable,
          ...(term?.stdin ? { stdin: term.stdin } : {}),
        });
      } catch (err) {
        term?.restore();
        ctx.setExitCode(125); // Docker's "the daemon could not run it" status
        if (rec && f.rm) await mgr.remove(rec.id, { force: true, volumes: true }).catch(() => {});
        throw err;
      }
      const id = rec.id;
      term!.onResize((size) => void mgr.resize(id, size).catch(() => {}));
      // Docker's --sig-proxy: an interrupt stops the container (and --rm then removes it), not only the CLI
      const unproxy = proxySignals((sig) => void mgr.kill(id, sig).catch(() => {}));
      let detached = false;
      try {
        const exit = await Promise.race([mgr.wait(id), term!.detached.then(() => undefined)]);
        if (exit) ctx.setExitCode(exit.exitCode);
        else detached = true;
      } finally {
        unproxy();
        term!.restore();
        if (f.interactive) process.stdin.pause();
        if (f.rm && !detached) {
          await mgr.remove(id, { force: true, volumes: true }).catch((err: unknown) => {
            if (!isTbuildError(err, 'TB_CONTAINER_NOT_FOUND')) throw err;
          });
        }
      }
      // Detached: the container runs on; in a daemonless engine there is nobody left to honour --rm
      if (detached) {
        if (f.rm && !ctx.host()) ctx.stderr.write(`tbuild: detached from ${id.slice(0, 12)}; remove it with tbuild rm -f once done (--rm needs a daemon to act after the CLI exits)\n`);
        // the attachment and the engine's watches of a container that runs on must not hold the CLI
        process.exit(0);
      }
    });
}

/** The image as `--pull` says, then the container; Docker's warning when the image is another CPU's. */
async function pullAndCreate(ctx: CliContext, opts: CreateContainerOptions, f: RunFlags): Promise<ContainerRecord> {
  await pullForRun(ctx, opts.image, f.pull ?? 'missing', f.platform, f.quiet);
  const engine = await ctx.engine();
  const rec = await engine.containers.create(opts);
  if (!f.platform) {
    const warning = platformMismatchWarning((await engine.images.get(rec.imageId).catch(() => undefined))?.config ?? {});
    if (warning) ctx.stderr.write(`WARNING: ${warning}\n`);
  }
  return rec;
}

function checkPullPolicy(pull: string | undefined): void {
  if (!['missing', 'always', 'never'].includes(pull ?? 'missing')) {
    throw new TbuildError('TB_INVALID_ARGUMENT', `invalid pull option: '${pull}': must be one of "always", "missing" or "never"`);
  }
}

/** `tbuild create` (= `container create`): a container made as `run` makes it, not started; prints its id. */
export function addCreate(program: Command, ctx: CliContext): void {
  containerFlags(
    program
      .command('create')
      .description('create a new container')
      .argument('<image>')
      .argument('[command...]'),
  ).action(async (image: string, command: string[], f: RunFlags) => {
    // nothing is attached at creation: stdin stays open for a later attach, not closed after one
    const opts = { ...createOptions(image, command, f), stdinOnce: false };
    checkPullPolicy(f.pull);
    try {
      const rec = await pullAndCreate(ctx, opts, f);
      ctx.stdout.write(`${rec.id}\n`);
    } catch (err) {
      ctx.setExitCode(125);
      throw err;
    }
  });
}
