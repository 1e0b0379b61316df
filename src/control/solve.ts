import type { CacheExportSpec, CacheImportSpec } from '../remotecache/types.js';
import { ownedName, sweepDeadOwners } from '../util/owned-temp.js';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { OutputSpec, BuildResult } from '../build/types.js';
import { TbuildError } from '../errors.js';
import type { Digest } from '../util/digest.js';
import type { BuildJob } from './build-jobs.js';
import type { FailureSite } from './errors.js';
import { syncDir, syncFromClient } from './diffcopy-receive.js';
import { getCredentials, getSecret, sendDir, sendStream, sshAgent } from './session-calls.js';
import { ClientContentStore } from './session-content.js';
import { type ExporterRequest, type SolvePlan, exporterAnnotations, exporterNames, planSolve, wantsPush } from './solve-options.js';
import type { ClientSession, ControlBackend } from './types.js';

/**
 * One Solve carried out: the Dockerfile and context are synced from the client's session, the
 * engine builds, and the exporters' results go to the image store or back to the client.
 * Returns BuildKit's exporter response (what buildx writes to `--metadata-file` and `--iidfile`).
 */
export interface SolveInput {
  backend: ControlBackend;
  job: BuildJob;
  session: ClientSession;
  frontendAttrs: Record<string, string>;
  exporters: ExporterRequest[];
  /** `--cache-from`/`--cache-to`, parsed. */
  cache?: { cacheFrom: CacheImportSpec[]; cacheTo: CacheExportSpec[] };
  entitlements: readonly string[];
  signal: AbortSignal;
  /** Filled in as the build goes: where it failed, for the error's details. */
  failure: FailureSite;
  /** buildx's W3C `traceparent` (gRPC metadata): the build's spans join the client's trace. */
  traceParent?: string;
}

function internalVertex(name: string): Digest {
  return `sha256:${createHash('sha256').update(`tbuild-internal\0${name}\0${randomBytes(8).toString('hex')}`).digest('hex')}` as Digest;
}

/** Run `fn` as an `[internal]` vertex of the job's progress, as BuildKit shows its loads. */
async function internal<T>(job: BuildJob, name: string, fn: (vertex: Digest) => Promise<T>): Promise<T> {
  const id = internalVertex(name);
  const started = Date.now();
  job.progress({ type: 'vertex', vertex: { id, name, inputs: [], started } });
  try {
    const r = await fn(id);
    job.progress({ type: 'vertex', vertex: { id, name, inputs: [], started, completed: Date.now() } });
    return r;
  } catch (err) {
    job.progress({ type: 'vertex', vertex: { id, name, inputs: [], started, completed: Date.now(), error: (err as Error).message } });
    throw err;
  }
}

/** The `.dockerignore` of a client directory (empty when it has none), fetched alone into `scratch`. */
async function clientDockerignore(session: ClientSession, dirName: string, scratch: string, signal: AbortSignal): Promise<string> {
  await syncFromClient(session, { dirName, dest: scratch, followPaths: ['.dockerignore'], includePatterns: ['.dockerignore'], signal });
  return readFile(join(scratch, '.dockerignore'), 'utf8').catch(() => '');
}

/** `.dockerignore` lines as fsutil exclude patterns. */
function ignorePatterns(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

export async function runSolve(input: SolveInput): Promise<Record<string, string>> {
  const { backend, job, session, signal } = input;
  const plan = planSolve(input.frontendAttrs, input.entitlements);
  for (const message of plan.warnings) job.progress({ type: 'warning', message });
  if ((plan.options.platform ?? '').includes(',') && input.exporters.some((e) => e.type === 'moby')) {
    // the docker driver keeps the result in the daemon's store and pushes it from there
    throw new TbuildError('TB_BUILDKIT_UNSUPPORTED', `several platforms (${plan.options.platform}) with the docker driver: its image store keeps one platform per name; use -o type=oci|local|tar, or a remote-driver builder to --push`);
  }
  const streams = input.exporters.filter((e) => ['tar', 'docker', 'oci'].includes(e.type));
  if (streams.length > 1) throw new TbuildError('TB_BUILDKIT_UNSUPPORTED', 'more than one exporter that streams back to the client is not supported by tbuild');
  // Named after this process, so a start after a crash removes what a dead daemon left here.
  await sweepDeadOwners(join(backend.root, 'buildkit', 'tmp'), 'solve');
  const tmp = join(backend.root, 'buildkit', 'tmp', ownedName('solve'));
  await mkdir(tmp, { recursive: true, mode: 0o700 });
  try {
    const dfDir = join(tmp, 'dockerfile');
    const fetchDockerfile = () =>
      syncFromClient(session, {
        dirName: plan.dockerfileDir,
        dest: dfDir,
        followPaths: [plan.filename, `${plan.filename}.dockerignore`],
        includePatterns: [plan.filename, `${plan.filename}.dockerignore`],
        signal,
      });
    const syncDockerfile = () =>
      internal(job, `[internal] load build definition from ${plan.filename}`, (vertex) =>
        fetchDockerfile().then((r) => job.progress({ type: 'status', vertex, id: 'transferring dockerfile:', name: 'transferring dockerfile:', current: r.bytes, completed: true })),
      );
    const { dockerfile, context } = plan.remoteContext
      ? await remoteDefinition(input, plan, dfDir, fetchDockerfile)
      : await localDefinition(input, plan, tmp, dfDir, syncDockerfile);

    const localContexts: Record<string, string> = {};
    for (const [name, dirName] of Object.entries(plan.localContexts)) {
      const dest = syncDir(backend.root, session.sharedKey || session.id, dirName);
      await internal(job, `[internal] load build context ${name}`, async () => {
        const text = await clientDockerignore(session, dirName, join(tmp, `ignore-${name}`), signal);
        await syncFromClient(session, { dirName, dest, excludePatterns: ignorePatterns(text), signal });
      });
      localContexts[name] = dest;
    }

    const outputs: OutputSpec[] = [];
    const localDirs: { index: number; dir: string }[] = [];
    let stream: ReturnType<typeof sendStream> | undefined;
    input.exporters.forEach((e, index) => {
      if (e.type === 'image' || e.type === 'moby') outputs.push({ type: 'image', names: exporterNames(e.attrs), ...(wantsPush(e) ? { push: true } : {}), ...exporterAnnotations(e) });
      else if (e.type === 'local') {
        const dir = join(tmp, `out-${index}`);
        localDirs.push({ index, dir });
        outputs.push({ type: 'local', dest: dir });
      } else {
        stream = sendStream(session, index, signal);
        const names = exporterNames(e.attrs);
        if (e.type === 'tar') outputs.push({ type: 'tar', dest: '-' });
        else outputs.push({ type: e.type as 'docker' | 'oci', dest: '-', ...(names.length ? { names } : {}), ...exporterAnnotations(e) });
      }
    });
    let result: BuildResult;
    const hidden = new Set<string>();
    const clientStores = new Map<string, ClientContentStore>();
    const clientStore = (id: string): ClientContentStore => {
      let store = clientStores.get(id);
      if (!store) clientStores.set(id, (store = new ClientContentStore(session, id, signal)));
      return store;
    };
    try {
      result = await backend.build({
        ...(input.traceParent ? { traceParent: input.traceParent } : {}),
        clientRef: job.ref,
        ...plan.options,
        context,
        dockerfile,
        ...(Object.keys(localContexts).length ? { localContexts } : {}),
        outputs: outputs.length ? outputs : [{ type: 'image', names: [] }],
        ...(input.cache?.cacheFrom.length ? { cacheFrom: input.cache.cacheFrom } : {}),
        ...(input.cache?.cacheTo.length ? { cacheTo: input.cache.cacheTo } : {}),
        ...(stream ? { outputStream: stream.writable } : {}),
        secretLookup: (id) => getSecret(session, id, signal),
        sshLookup: (id) => sshAgent(session, id),
        registryAuthLookup: (host) => getCredentials(session, host, signal),
        cacheStoreLookup: clientStore,
        onProgress: (ev) => {
          // The definition was loaded (and shown) above, from the client: its vertex and lines stay out.
          if (ev.type === 'vertex' && ev.vertex.name.startsWith('[internal] load build definition')) {
            hidden.add(ev.vertex.id);
            return;
          }
          if ((ev.type === 'status' || ev.type === 'log') && hidden.has(ev.vertex)) return;
          if (ev.type === 'vertex' && ev.vertex.error) input.failure.vertex = ev.vertex.id;
          job.progress(ev);
        },
        signal,
      });
    } catch (err) {
      stream?.writable.destroy(err as Error);
      throw err;
    }
    if (stream) {
      await new Promise<void>((resolve) => stream!.writable.end(resolve));
      await stream.done;
    }
    for (const { index, dir } of localDirs) await sendDir(session, index, dir, signal);
    const response = exporterResponse(result, input.exporters);
    // several platforms have an index, no one config (BuildKit names none)
    if ((plan.options.platform ?? '').includes(',')) delete response['containerimage.config.digest'];
    // the client names the exported cache in its directory's index.json (BuildKit's key)
    const cacheManifest = [...clientStores.values()].map((s) => s.tagged).filter(Boolean).pop();
    if (cacheManifest) response['cache.manifest'] = JSON.stringify(cacheManifest);
    return response;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** The Dockerfile and the context from the client's session: both synced into the daemon. */
async function localDefinition(input: SolveInput, plan: SolvePlan, tmp: string, dfDir: string, syncDockerfile: () => Promise<unknown>): Promise<{ dockerfile: string; context: string }> {
  const { backend, job, session, signal } = input;
  await syncDockerfile();
  const dockerfile = join(dfDir, plan.filename);
  const dockerfileData = await readFile(dockerfile).catch(() => {
    throw new TbuildError('TB_BUILDKIT_SYNC', `failed to read dockerfile: open ${plan.filename}: no such file or directory`);
  });
  input.failure.dockerfile = { name: plan.filename, data: dockerfileData };
  job.source = input.failure.dockerfile;
  const ignoreText = await internal(job, '[internal] load .dockerignore', async () => {
    const own = await readFile(`${dockerfile}.dockerignore`, 'utf8').catch(() => undefined);
    if (own !== undefined) return own;
    return clientDockerignore(session, plan.contextDir, join(tmp, 'ignore'), signal);
  });
  const contextDir = syncDir(backend.root, session.sharedKey || session.id, plan.contextDir);
  await internal(job, '[internal] load build context', async (vertex) => {
    const report = (bytes: number, completed?: boolean) =>
      job.progress({ type: 'status', vertex, id: 'transferring context:', name: 'transferring context:', current: bytes, ...(completed ? { completed } : {}) });
    let last = 0;
    const r = await syncFromClient(session, {
      dirName: plan.contextDir,
      dest: contextDir,
      excludePatterns: ignorePatterns(ignoreText),
      signal,
      onBytes: (b) => {
        if (b - last >= 1 << 20) report((last = b));
      },
    });
    report(r.bytes, true);
  });
  return { dockerfile, context: contextDir };
}

/**
 * `docker buildx build GIT-URL|TARBALL-URL`: the daemon fetches the context (the build does, as
 * for `tbuild build URL`); the Dockerfile is the client's when it sent one (`-f FILE`), else the
 * context's own `filename`.
 */
async function remoteDefinition(input: SolveInput, plan: SolvePlan, dfDir: string, fetchDockerfile: () => Promise<unknown>): Promise<{ dockerfile: string; context: string }> {
  // no step of its own: most such clients send no Dockerfile, and that is not a failure
  const own = await fetchDockerfile()
    .then(() => readFile(join(dfDir, plan.filename)))
    .catch(() => undefined);
  if (own) {
    input.failure.dockerfile = { name: plan.filename, data: own };
    input.job.source = input.failure.dockerfile;
    return { dockerfile: join(dfDir, plan.filename), context: plan.remoteContext! };
  }
  return { dockerfile: plan.filename, context: plan.remoteContext! };
}

function exporterResponse(result: BuildResult, exporters: ExporterRequest[]): Record<string, string> {
  const res: Record<string, string> = {
    'containerimage.config.digest': result.imageId,
    'containerimage.digest': result.digest,
  };
  const names = exporters.filter((e) => e.type === 'image' || e.type === 'moby').flatMap((e) => exporterNames(e.attrs));
  if (names.length) res['image.name'] = names.join(',');
  return res;
}
