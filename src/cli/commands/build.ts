import { parseAnnotationAttr, parseAnnotationFlag, type Annotation } from '../../build/annotations.js';
import { parseSize } from './container-flags.js';
import { parseCacheFrom, parseCacheTo } from '../../remotecache/spec.js';
import { parseGitSource } from '../../worker/file/git-source.js';
import { StepTimer, chromeTrace } from '../../records/trace.js';
import { isTraceParent } from '../../util/trace.js';
import { checkAddHost } from '../../network/ports.js';
import { statSync } from 'node:fs';
import { parseNamedContext } from '../../build/named-context.js';
import { Option, type Command } from 'commander';
import { resolve } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../../util/atomic.js';
import type { RegisterCommand } from '../context.js';
import type { BuildOptions, OutputSpec, ProgressMode, SecretSource } from '../../build/types.js';
import { collect, keyValues } from '../options.js';
import { TbuildError, isTbuildError } from '../../errors.js';
import { parseEntitlement } from '../../exec/security/entitlements.js';
import { createRenderer } from '../progress/index.js';

function csv(spec: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of spec.split(',')) {
    const i = part.indexOf('=');
    if (i === -1) out[part.trim()] = '';
    else out[part.slice(0, i).trim()] = part.slice(i + 1);
  }
  return out;
}

export function parseSecret(spec: string): [string, SecretSource] {
  const f = csv(spec);
  const id = f.id;
  if (!id) throw new TbuildError('TB_INVALID_ARGUMENT', `--secret ${spec}: id= is required`);
  if (f.env !== undefined) return [id, { env: f.env }];
  return [id, { src: resolve(f.src ?? f.source ?? id) }];
}

export function parseOutput(spec: string): OutputSpec {
  const f = csv(spec.includes('=') ? spec : `type=local,dest=${spec}`);
  const dest = f.dest;
  const names = f.name ? f.name.split(';') : undefined;
  // An attribute nobody carries out is refused, never ignored.
  const allowed: Record<string, string[]> = {
    image: ['type', 'name', 'push'],
    registry: ['type', 'name', 'push'],
    docker: ['type', 'dest', 'name'],
    oci: ['type', 'dest', 'name'],
    tar: ['type', 'dest'],
    local: ['type', 'dest'],
  };
  // annotation.KEY=V, annotation-manifest[linux/amd64].KEY=V …: on the outputs that write a manifest
  const annotations: Annotation[] = [];
  const annotationKeys = new Set<string>();
  if (['image', 'registry', 'docker', 'oci'].includes(f.type ?? '')) {
    for (const [k, v] of Object.entries(f)) {
      const a = parseAnnotationAttr(k, v);
      if (a) annotations.push(a), annotationKeys.add(k);
    }
  }
  const withAnnotations = annotations.length ? { annotations } : {};
  const unknown = Object.keys(f).filter((k) => allowed[f.type ?? ''] && !allowed[f.type!]!.includes(k) && !annotationKeys.has(k));
  if (unknown.length) {
    throw new TbuildError('TB_INVALID_ARGUMENT', `--output ${spec}: ${unknown.map((k) => JSON.stringify(k)).join(', ')} ${unknown.length > 1 ? 'are' : 'is'} not supported for type=${f.type}`);
  }
  const flag = (v: string | undefined, key: string): boolean => {
    if (v === undefined || v === 'false') return false;
    if (v === '' || v === 'true') return true;
    throw new TbuildError('TB_INVALID_ARGUMENT', `--output ${spec}: ${key}=${v}: want true or false`);
  };
  switch (f.type) {
    case 'image':
      return { type: 'image', names, ...(flag(f.push, 'push') ? { push: true } : {}), ...withAnnotations };
    case 'registry':
      // type=registry is type=image,push=true (push=false would make it a plain image output).
      return { type: 'image', names, ...(f.push === undefined || flag(f.push, 'push') ? { push: true } : {}), ...withAnnotations };
    case 'docker':
    case 'oci':
      if (!dest) throw new TbuildError('TB_INVALID_ARGUMENT', `--output ${spec}: dest= is required`);
      return { type: f.type, dest: dest === '-' ? dest : resolve(dest), names, ...withAnnotations };
    case 'tar':
    case 'local':
      if (!dest) throw new TbuildError('TB_INVALID_ARGUMENT', `--output ${spec}: dest= is required`);
      return { type: f.type, dest: dest === '-' ? dest : resolve(dest) };
    default:
      throw new TbuildError('TB_INVALID_ARGUMENT', `--output ${spec}: unknown type ${JSON.stringify(f.type ?? '')}`);
  }
}

/** BuildKit's failure block: the step and the tail of its output, before the Dockerfile snippet. */
function failureBlock(err: unknown): string {
  if (!isTbuildError(err)) return '';
  const tail = err.details.outputTail;
  const step = err.details.step;
  if (!Array.isArray(tail) || typeof step !== 'string') return '';
  return `------\n > ${step}:\n${(tail as string[]).map((l) => `${l}\n`).join('')}------\n`;
}

export const registerBuild: RegisterCommand = (program: Command, ctx) => {
  program
    .command('build')
    .addHelpText('after', '\nExamples:\n  tbuild build -t app:dev .\n  tbuild build -f docker/Dockerfile --target test --build-arg VERSION=1.2 .\n  tbuild build --secret id=npmrc,src=$HOME/.npmrc -o type=local,dest=out .\n  tar -cz . | tbuild build -t app -\n')
    .description('build an image from a Dockerfile')
    .argument('<context>', 'context directory, or - for a tar on stdin')
    .option('-t, --tag <name>', 'name and optionally a tag (repeatable)', collect)
    .option('-f, --file <path>', 'dockerfile (default: CONTEXT/Dockerfile)')
    .option('--build-arg <k=v>', 'build-time variable (repeatable)', collect)
    .option('--target <stage>', 'build this stage')
    .option('--no-cache', 'do not use the cache')
    .addOption(
      // commander reads `--no-X` as the negation of `--X`: name the attribute, start from a list.
      new Option('--no-cache-filter <stages>', 'do not use the cache for these stages (comma separated)').argParser(collect).default([]),
    )
    .option('--secret <spec>', 'secret: id=ID,src=PATH or id=ID,env=VAR (repeatable)', collect)
    .option('--build-context <name=value>', 'named context: NAME=docker-image://REF (FROM/COPY --from=NAME use that image), NAME=DIR, NAME=GIT-URL or NAME=https://…TARBALL (COPY --from=NAME reads it); repeatable', collect)
    .option('--add-host <host:ip>', 'add an /etc/hosts line to every RUN step (ip may be host-gateway); repeatable', collect)
    .option('--ssh <spec>', 'ssh agent for RUN --mount=type=ssh: default|ID[=SOCKET] (default: $SSH_AUTH_SOCK; repeatable)', collect)
    .addOption(new Option('--network <mode>', 'network for RUN steps: default (the bridge, NAT out), none (lo only) or host').choices(['default', 'none', 'host']).default('default'))
    .option('--allow <entitlement>', 'grant an entitlement: security.insecure (RUN --security=insecure), network.host', collect)
    .option('--max-parallelism <n>', 'set the number of steps run at once', (v) => Number.parseInt(v, 10))
    .addOption(new Option('--progress <mode>', 'progress output').choices(['auto', 'tty', 'plain', 'rawjson', 'quiet']).default('auto'))
    .option('-o, --output <spec>', 'type=image[,push=true]|registry|docker|oci|tar|local,dest=PATH,name=N (repeatable)', collect)
    .option('--push', 'push the image to its registry (shorthand for --output type=registry)')
    .option('--shm-size <bytes>', 'size of /dev/shm in RUN steps (e.g. 128m; default 64m)')
    .option('--ulimit <name=soft[:hard]>', 'ulimit for RUN steps (repeatable)', collect)
    .option('--cache-to <spec>', 'export the build cache: type=registry,ref=R[,mode=min|max][,image-manifest=true][,oci-mediatypes=true][,cache-mounts=true] | type=local,dest=DIR | type=inline (repeatable)', collect)
    .option('--cache-from <spec>', 'import a build cache: REF, type=registry,ref=R or type=local,src=DIR (repeatable)', collect)
    .option('--pull', 'always pull base images from their registries, even when stored')
    .option('--iidfile <file>', 'write the image id to the file')
    .option('--metadata-file <file>', 'write build result metadata (JSON) to the file')
    .option('--trace <file>', 'write the steps and their phases as Chrome trace events (Perfetto, chrome://tracing), one track per parallel lane (through -H: the steps only)')
    .option('--label <k=v>', 'image label (repeatable)', collect)
    .option('--annotation <[type:]k=v>', 'OCI annotation on the image manifest; type manifest (default, may name the platform: manifest[linux/amd64]) or manifest-descriptor (type=oci output); repeatable', collect)
    .option('--platform <os/arch[/variant]>', 'build for this platform (RUN steps for another CPU run under a registered emulator)')
    .option('-q, --quiet', 'print only the image id')
    .option('--debug-on-failure', 'when a RUN fails, open a shell in the state it left (tbuild debug last) if the terminal is interactive')
    .action(async (contextArg: string, o: Record<string, unknown>) => {
      if (o.debugOnFailure && ctx.host()) {
        throw new TbuildError('TB_INVALID_ARGUMENT', '--debug-on-failure needs the embedded engine (--root, the daemon\'s data root), not -H');
      }
      const cwd = process.cwd();
      const tags = (o.tag as string[] | undefined) ?? [];
      const mode: ProgressMode = o.quiet ? 'quiet' : (o.progress as ProgressMode);
      const renderer = createRenderer(mode, ctx.stderr);
      const abort = new AbortController();
      const onSigint = (): void => abort.abort(new TbuildError('TB_BUILD_CANCELLED', 'build cancelled (interrupt)'));
      process.once('SIGINT', onSigint);
      const secrets: Record<string, SecretSource> = {};
      for (const s of (o.secret as string[] | undefined) ?? []) {
        const [id, src] = parseSecret(s);
        secrets[id] = src;
      }
      const ssh: Record<string, string> = {};
      for (const spec of (o.ssh as string[] | undefined) ?? []) {
        const [id, path] = spec.includes('=') ? [spec.slice(0, spec.indexOf('=')), spec.slice(spec.indexOf('=') + 1)] : [spec, process.env.SSH_AUTH_SOCK ?? ''];
        if (!id) throw new TbuildError('TB_INVALID_ARGUMENT', `--ssh ${spec}: an id is required`);
        if (!path) throw new TbuildError('TB_INVALID_ARGUMENT', `--ssh ${spec}: no agent socket given and SSH_AUTH_SOCK is not set`);
        const sock = resolve(cwd, path);
        if (!statSync(sock, { throwIfNoEntry: false })?.isSocket()) throw new TbuildError('TB_INVALID_ARGUMENT', `--ssh ${spec}: ${sock} is not an agent socket (key files are not supported: add the key to an ssh-agent)`);
        ssh[id] = sock;
      }
      const namedContexts: Record<string, string> = {};
      const localContexts: Record<string, string> = {};
      const remoteContexts: Record<string, string> = {};
      for (const spec of (o.buildContext as string[] | undefined) ?? []) {
        const eq = spec.indexOf('=');
        if (eq <= 0) throw new TbuildError('TB_INVALID_ARGUMENT', `--build-context ${spec}: expected NAME=VALUE`);
        const named = parseNamedContext(spec.slice(0, eq), spec.slice(eq + 1));
        if ('image' in named) namedContexts[spec.slice(0, eq)] = named.image;
        else if ('remote' in named) remoteContexts[spec.slice(0, eq)] = named.remote;
        else localContexts[spec.slice(0, eq)] = resolve(cwd, named.dir);
      }
      const file = o.file as string | undefined;
      if (file === '-' && contextArg === '-') {
        throw new TbuildError('TB_INVALID_ARGUMENT', "can't use stdin for both the build context and the Dockerfile");
      }
      // `-f -`: the Dockerfile comes on stdin, the context from the directory.
      const dockerfileText = file === '-' ? await readStdin() : undefined;
      const timer = o.trace ? new StepTimer() : undefined;
      const opts: BuildOptions = {
        // a git URL context stays a URL; -f is then a path inside the repository
        context: contextArg === '-' ? { tar: process.stdin } : isUrlContext(contextArg) ? contextArg : resolve(cwd, contextArg),
        dockerfile: file === undefined || file === '-' ? undefined : file.startsWith('/') || (contextArg !== '-' && !isUrlContext(contextArg)) ? resolve(cwd, file) : file,
        ...(dockerfileText !== undefined ? { dockerfileText } : {}),
        buildArgs: keyValues(o.buildArg as string[] | undefined, '--build-arg', true),
        target: o.target as string | undefined,
        tags,
        labels: keyValues(o.label as string[] | undefined, '--label', false),
        ...((o.annotation as string[] | undefined)?.length ? { annotations: (o.annotation as string[]).flatMap(parseAnnotationFlag) } : {}),
        noCache: o.cache === false,
        noCacheFilter: (Array.isArray(o.cacheFilter) ? (o.cacheFilter as string[]) : []).flatMap((s) => s.split(',')).filter(Boolean),
        secrets,
        ...(Object.keys(ssh).length ? { ssh } : {}),
        ...(Object.keys(namedContexts).length ? { namedContexts } : {}),
        ...(Object.keys(localContexts).length ? { localContexts } : {}),
        ...(Object.keys(remoteContexts).length ? { remoteContexts } : {}),
        network: (o.network as 'default' | 'none' | 'host') ?? 'default',
        ...((o.addHost as string[] | undefined)?.length ? { addHosts: (o.addHost as string[]).map(checkAddHost) } : {}),
        allow: ((o.allow as string[] | undefined) ?? []).flatMap((s) => s.split(',')).filter(Boolean).map(parseEntitlement),
        maxParallelism: o.maxParallelism as number | undefined,
        platform: o.platform as string | undefined,
        outputs: [...((o.output as string[] | undefined) ?? []).map(parseOutput), ...(o.push ? [{ type: 'image' as const, push: true }] : [])],
        ...(o.pull ? { pull: true } : {}),
        ...(o.shmSize !== undefined ? { shmSize: parseSize(o.shmSize as string) } : {}),
        ...((o.ulimit as string[] | undefined)?.length ? { ulimits: o.ulimit as string[] } : {}),
        ...((o.cacheTo as string[] | undefined)?.length ? { cacheTo: (o.cacheTo as string[]).map(localPath(cwd, parseCacheTo)) } : {}),
        ...((o.cacheFrom as string[] | undefined)?.length ? { cacheFrom: (o.cacheFrom as string[]).map(localPath(cwd, parseCacheFrom)) } : {}),
        outputStream: ctx.stdout,
        onProgress: (e) => {
          renderer.event(e);
          timer?.event(e);
        },
        ...(timer ? { onPhase: (p) => timer.phase(p) } : {}),
        ...(traceParentFromEnv() ?? {}),
        signal: abort.signal,
      };
      // written whether the build succeeds or fails: a failed build's timing is worth looking at too
      const writeTrace = async () => {
        if (timer) await writeJsonAtomic(resolve(cwd, o.trace as string), chromeTrace(timer.steps(), timer.phases()));
      };
      try {
        const engine = await ctx.engine();
        const result = await engine.build(opts);
        renderer.done();
        if (o.quiet) ctx.stdout.write(`${result.imageId}\n`);
        await writeTrace();
        if (o.iidfile) await writeFileAtomic(resolve(cwd, o.iidfile as string), result.imageId);
        if (o.metadataFile) {
          const meta = {
            'containerimage.digest': result.digest,
            'containerimage.config.digest': result.imageId,
            ...(tags.length ? { 'image.name': tags.join(',') } : {}),
          };
          await writeJsonAtomic(resolve(cwd, o.metadataFile as string), meta);
        }
      } catch (err) {
        renderer.done();
        ctx.stderr.write(failureBlock(err));
        await writeTrace().catch(() => {});
        if (o.debugOnFailure && isTbuildError(err, 'TB_EXEC_NONZERO')) {
          if (process.stdin.isTTY && process.stdout.isTTY) {
            const { debugStep } = await import('./debug.js');
            await debugStep(ctx, 'last', [], {}).catch((e: unknown) => ctx.stderr.write(`debug: ${(e as Error).message}\n`));
          } else {
            ctx.stderr.write('--debug-on-failure: not an interactive terminal; `tbuild debug last` starts a container in the failed step\'s state\n');
          }
        }
        throw err;
      } finally {
        process.removeListener('SIGINT', onSigint);
      }
    });
};

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

/** Parse a cache spec; a `type=local` directory is relative to where the command was run. */
function localPath<T extends { type: string; dest?: string; src?: string }>(cwd: string, parse: (s: string) => T): (s: string) => T {
  return (s) => {
    const spec = parse(s);
    if (spec.type === 'local') {
      if (spec.dest !== undefined) spec.dest = resolve(cwd, spec.dest);
      if (spec.src !== undefined) spec.src = resolve(cwd, spec.src);
    }
    return spec;
  };
}

/** A git URL or an http(s) tarball URL: a context the engine fetches itself. */
function isUrlContext(arg: string): boolean {
  return parseGitSource(arg) !== undefined || /^https?:\/\//i.test(arg);
}

/** `$TRACEPARENT` (W3C trace context), as buildx reads it: the build's OpenTelemetry spans join that trace. */
function traceParentFromEnv(): { traceParent: string } | undefined {
  const v = process.env.TRACEPARENT;
  if (!v) return undefined;
  if (!isTraceParent(v)) throw new TbuildError('TB_INVALID_ARGUMENT', `TRACEPARENT=${v}: not a W3C trace context (00-<32 hex>-<16 hex>-<2 hex>)`);
  return { traceParent: v };
}
