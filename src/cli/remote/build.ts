import { registryConfigHeader } from './registries.js';
import { parseGitSource } from '../../worker/file/git-source.js';
import { parseUlimit } from '../../exec/security/apply.js';
import type { RequestAuth } from '../../registry/types.js';
import { formatCacheSpec, refuseLocalOverApi } from '../../remotecache/spec.js';
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { BuildOptions, BuildResult, ProgressEvent, VertexStatus } from '../../build/types.js';
import type { ImageStore } from '../../images/types.js';
import { sha256, type Digest } from '../../util/digest.js';
import { TbuildError } from '../../errors.js';
import { storedImageLines } from '../../exporter/progress-lines.js';
import type { EngineClient, JsonMessage } from './client.js';
import { contextTar } from './context-tar.js';

/** Lines of a failing step's output kept for the CLI's failure block. */
const TAIL_LINES = 10;

function unsupported(what: string): TbuildError {
  return new TbuildError('TB_INVALID_ARGUMENT', `${what} is not supported through the daemon (the classic POST /build has no sessions); run without -H`);
}

/** Where the Dockerfile goes in the request: a context path, or a file we add to the tar. */
async function dockerfilePlan(opts: BuildOptions, contextDir: string | undefined): Promise<{ name: string; extra?: { name: string; data: Buffer }; abs?: string }> {
  if (opts.dockerfileText !== undefined) {
    const name = `.tbuild-dockerfile-${randomBytes(6).toString('hex')}`;
    return { name, extra: { name, data: Buffer.from(opts.dockerfileText) } };
  }
  const given = opts.dockerfile ?? 'Dockerfile';
  if (!contextDir) return { name: given };
  const abs = isAbsolute(given) ? given : join(contextDir, given);
  const rel = relative(contextDir, abs);
  if (rel && !rel.startsWith('..') && !isAbsolute(rel)) return { name: rel.split(sep).join('/'), abs };
  // Outside the context: sent inside the tar under a private name, as the Docker CLI does.
  const data = await readFile(abs).catch((err: Error) => {
    throw new TbuildError('TB_CONTEXT_INVALID', `unable to read Dockerfile ${abs}: ${err.message}`, { cause: err });
  });
  const name = `.tbuild-dockerfile-${randomBytes(6).toString('hex')}`;
  return { name, extra: { name, data }, abs };
}

/**
 * Turns the classic JSON-message stream back into progress events. It has no vertex graph, so
 * each `Step N/M : …` becomes one vertex and the text that follows it becomes that vertex's log.
 */
class StepTracker {
  #emit: (e: ProgressEvent) => void;
  #current: VertexStatus | undefined;
  #tail: string[] = [];
  #partial = '';
  #steps: BuildResult['steps'] = [];

  constructor(emit: (e: ProgressEvent) => void) {
    this.#emit = emit;
  }

  get steps(): BuildResult['steps'] {
    return this.#steps;
  }

  get current(): VertexStatus | undefined {
    return this.#current;
  }

  get tail(): string[] {
    return this.#partial ? [...this.#tail, this.#partial].slice(-TAIL_LINES) : this.#tail;
  }

  text(text: string): void {
    const step = /^Step (\d+)\/(\d+) : (.*)\n?$/s.exec(text);
    if (step) {
      this.finish();
      const v: VertexStatus = {
        id: sha256(`remote-step:${step[1]}/${step[2]}:${step[3]}`) as Digest,
        name: `[${step[1]}/${step[2]}] ${step[3]!.trim()}`,
        inputs: this.#current ? [this.#current.id] : [],
        started: Date.now(),
      };
      this.#current = v;
      this.#tail = [];
      this.#partial = '';
      this.#emit({ type: 'vertex', vertex: { ...v } });
      return;
    }
    if (/^ ---> Using cache\n?$/.test(text)) {
      if (this.#current) this.#current.cached = true;
      return;
    }
    // Classic bookkeeping lines that BuildKit-style output has no place for.
    if (/^( ---> |Removing intermediate container |Successfully (built|tagged) )/.test(text)) return;
    const warn = /^\[WARNING\]: (.*)\n?$/s.exec(text);
    if (warn) {
      this.#emit({ type: 'warning', message: warn[1]!.trim() });
      return;
    }
    if (!this.#current) {
      this.#current = { id: sha256('remote-step:preamble') as Digest, name: '[internal] load build definition', inputs: [], started: Date.now() };
      this.#emit({ type: 'vertex', vertex: { ...this.#current } });
    }
    const lines = (this.#partial + text).split('\n');
    this.#partial = lines.pop() ?? '';
    this.#tail = [...this.#tail, ...lines].slice(-TAIL_LINES);
    this.#emit({ type: 'log', vertex: this.#current.id, stream: 'stdout', data: Buffer.from(text), timestamp: Date.now() });
  }

  finish(error?: string): void {
    const v = this.#current;
    if (!v || v.completed !== undefined) return;
    v.completed = Date.now();
    if (error) v.error = error;
    this.#steps.push({ vertex: v.id, name: v.name, cached: Boolean(v.cached), duration: v.completed - (v.started ?? v.completed) });
    this.#emit({ type: 'vertex', vertex: { ...v } });
  }
}

/** `engine.build()` through POST /build: the context as a tar, the classic stream mapped back to events. */
export async function remoteBuild(client: EngineClient, images: ImageStore, opts: BuildOptions): Promise<BuildResult> {
  if (opts.secrets && Object.keys(opts.secrets).length) throw unsupported('--secret');
  if ((opts.ssh && Object.keys(opts.ssh).length) || opts.sshLookup) throw unsupported('--ssh');
  if ((opts.namedContexts && Object.keys(opts.namedContexts).length) || (opts.localContexts && Object.keys(opts.localContexts).length)) throw unsupported('--build-context');
  if (opts.noCacheFilter?.length) throw unsupported('--no-cache-filter');
  if (opts.annotations?.length || (opts.outputs ?? []).some((o) => 'annotations' in o && o.annotations?.length)) throw unsupported('--annotation');
  // a git or tarball URL: the daemon fetches it (`remote=`), the Dockerfile is the context's own
  const remote = typeof opts.context === 'string' && (parseGitSource(opts.context) || /^https?:\/\//i.test(opts.context)) ? opts.context : undefined;
  if (remote && opts.dockerfileText !== undefined) throw unsupported("a Dockerfile of the client's with a git or tarball URL as the context");
  for (const o of opts.outputs ?? []) if (o.type !== 'image') throw unsupported(`--output type=${o.type}`);
  const cacheFrom = (opts.cacheFrom ?? []).map((c) => formatCacheSpec(refuseLocalOverApi(c, '--cache-from')));
  const cacheTo = (opts.cacheTo ?? []).map((c) => formatCacheSpec(refuseLocalOverApi(c, '--cache-to')));
  const tags = [...(opts.tags ?? []), ...(opts.outputs ?? []).flatMap((o) => (o.type === 'image' ? (o.names ?? []) : []))];

  const contextDir = typeof opts.context === 'string' && !remote ? opts.context : undefined;
  const df: Awaited<ReturnType<typeof dockerfilePlan>> = remote ? { name: opts.dockerfile ?? 'Dockerfile' } : await dockerfilePlan(opts, contextDir);
  let body: Readable;
  if (remote) {
    body = Readable.from([]);
  } else if (contextDir) {
    const keep = ['.dockerignore', ...(df.extra ? [] : [df.name])];
    body = await contextTar(contextDir, { ...(df.abs ? { dockerfilePath: df.abs } : {}), keep, ...(df.extra ? { extra: [df.extra] } : {}) });
  } else {
    if (df.extra) throw unsupported('a Dockerfile outside a context given as a tar stream');
    body = (opts.context as { tar: Readable }).tar;
  }

  const emit = opts.onProgress ?? (() => {});
  const steps = new StepTracker(emit);
  let imageId: Digest | undefined;
  let failure: JsonMessage | undefined;
  const messages = client.messages('POST', '/build', {
    query: {
      t: tags.length ? tags : undefined,
      dockerfile: df.name,
      remote,
      buildargs: opts.buildArgs && Object.keys(opts.buildArgs).length ? JSON.stringify(opts.buildArgs) : undefined,
      target: opts.target || undefined,
      nocache: opts.noCache || undefined,
      pull: opts.pull || undefined,
      labels: opts.labels && Object.keys(opts.labels).length ? JSON.stringify(opts.labels) : undefined,
      networkmode: opts.network && opts.network !== 'default' ? opts.network : undefined,
      extrahosts: opts.addHosts?.length ? opts.addHosts : undefined,
      platform: opts.platform || undefined,
      allow: opts.allow?.length ? opts.allow : undefined,
      shmsize: opts.shmSize !== undefined ? String(opts.shmSize) : undefined,
      ulimits: opts.ulimits?.length ? JSON.stringify(opts.ulimits.map(ulimitJson)) : undefined,
      cachefrom: cacheFrom.length ? JSON.stringify(cacheFrom) : undefined,
      // tbuild's own parameter: the classic API has no cache export
      cacheto: cacheTo.length ? JSON.stringify(cacheTo) : undefined,
      rm: true,
    },
    body,
    headers: { 'Content-Type': 'application/x-tar', ...registryConfigHeader(await cacheRegistryAuth(opts)), ...(opts.traceParent ? { traceparent: opts.traceParent } : {}) },
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  try {
    for await (const m of messages) {
      if (m.error || m.errorDetail) {
        failure = m;
        break;
      }
      if (m.aux && typeof m.aux.ID === 'string') imageId = m.aux.ID as Digest;
      if (typeof m.stream === 'string') steps.text(m.stream);
    }
  } catch (err) {
    if (opts.signal?.aborted) {
      const reason: unknown = opts.signal.reason;
      throw reason instanceof TbuildError ? reason : new TbuildError('TB_BUILD_CANCELLED', 'build cancelled', { cause: err });
    }
    throw err;
  }
  if (failure) {
    const message = failure.errorDetail?.message ?? failure.error ?? 'build failed';
    const step = steps.current;
    const tail = steps.tail;
    steps.finish(message);
    throw new TbuildError('TB_BUILD_FAILED', message, {
      details: {
        ...(failure.errorDetail?.code !== undefined ? { exitCode: failure.errorDetail.code } : {}),
        ...(step && tail.length ? { step: step.name, outputTail: tail } : {}),
      },
    });
  }
  steps.finish();
  if (!imageId) throw new TbuildError('TB_BUILD_FAILED', 'the daemon ended the build without an image id');
  exportedImage(opts.onProgress ?? (() => {}), imageId, tags);
  const image = await images.get(imageId);
  // The classic stream carries no manifest digest; the config digest stands in for it.
  return { imageId, digest: imageId, ...(image ? { image } : {}), steps: steps.steps };
}

/** The classic stream says nothing of the export: the lines an embedded build shows under `exporting to image`. */
function exportedImage(emit: (e: ProgressEvent) => void, imageId: Digest, tags: string[]): void {
  const vertex: VertexStatus = { id: sha256(`remote-step:export:${imageId}`) as Digest, name: 'exporting to image', inputs: [], started: Date.now() };
  emit({ type: 'vertex', vertex: { ...vertex } });
  for (const line of storedImageLines(imageId, tags)) {
    emit({ type: 'status', vertex: vertex.id, id: line, name: line, current: 0, completed: true });
  }
  emit({ type: 'vertex', vertex: { ...vertex, completed: Date.now() } });
}

/** This user's credentials for the registries the build's caches live on (the daemon has its own otherwise). */
async function cacheRegistryAuth(opts: BuildOptions): Promise<RequestAuth[]> {
  const refs = [...(opts.cacheFrom ?? []), ...(opts.cacheTo ?? [])].flatMap((c) => (c.type === 'registry' ? [c.ref] : []));
  if (!refs.length) return [];
  const [{ parseReference }, { DockerConfigCredentials }] = await Promise.all([import('../../images/reference.js'), import('../../registry/credentials.js')]);
  const store = new DockerConfigCredentials();
  const out: RequestAuth[] = [];
  for (const host of new Set(refs.map((r) => parseReference(r).domain))) {
    const credentials = await store.get(host);
    if (credentials) out.push({ host, credentials });
  }
  return out;
}

/** `name=soft[:hard]` as the Engine API's `{Name, Soft, Hard}`. */
function ulimitJson(spec: string): { Name: string; Soft: number; Hard: number } {
  const u = parseUlimit(spec);
  return { Name: u.name, Soft: u.soft, Hard: u.hard };
}
