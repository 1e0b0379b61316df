import { authFor, pullingLookup } from './base-images.js';
import { rm } from 'node:fs/promises';
import { mountPointsUnder, unmount, warmMounts } from '../util/mount.js';
import { startBuildScratch, sweepDeadScratch } from '../verify/scratch.js';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { BuildDeps, BuildOptions, BuildResult, ProgressEvent } from './types.js';
import { TbuildError, isTbuildError, withRange } from '../errors.js';
import { checkRunResources } from './run-resources.js';
import type { Digest } from '../util/digest.js';
import { logWriter, pruneLogs } from './logs.js';
import { connect as netConnect } from 'node:net';
import { parseDockerfile } from '../parser/parse.js';
import { resolveDockerfile } from '../parser/resolve.js';
import { PROXY_ARGS } from '../parser/scope.js';
import { checkConfig, lintFailureMessage, runChecks } from '../parser/checks/index.js';
import type { Diagnostic, Dockerfile } from '../parser/types.js';
import type { BuildContext } from '../session/types.js';
import { openContext } from '../session/open.js';
import { convert } from '../frontend/dockerfile/index.js';
import type { ImageLookup } from '../frontend/dockerfile/context.js';
import { formatPlatform, hostPlatform, targetPlatform, targetPlatforms } from '../util/platform.js';
import { solve } from '../solver/scheduler.js';
import type { Solved } from '../solver/types.js';
import type { CacheExportItem } from '../remotecache/export.js';
import { describeCache } from '../remotecache/spec.js';
import { cacheMountPath } from '../cache/cache-mounts.js';
import { existsSync } from 'node:fs';
import { engineOps } from '../worker/index.js';
import type { Definition } from '../solver/graph/types.js';
import type { LazyBase, OpEnv } from '../worker/types.js';
import { exportResult } from '../exporter/export.js';
import { imageConfig } from '../frontend/dockerfile/image-config.js';
import { collectPhases, traced } from '../util/trace.js';
import { normalizeTagReference } from '../images/reference.js';
import { resolveAnnotations } from './annotations.js';
import { internalSteps } from './internal-steps.js';
import { platformHooks } from './platform-hooks.js';
import { sourceDateEpoch, unconsumedArgs } from './args.js';
import { remoteContextKind, remoteContextSource } from './remote-context.js';
import { redactCredentials } from '../util/redact-url.js';
import { parseUlimit } from '../exec/security/apply.js';
import { grantedEntitlements } from '../exec/security/entitlements.js';

/**
 * Build a Dockerfile: parse, resolve the stages the target needs, convert them to a graph, solve it
 * (cache hits, parallel execution), export the image and any outputs.
 */
export function build(parts: BuildDeps, opts: BuildOptions): Promise<BuildResult> {
  const platforms = targetPlatforms(opts.platform);
  if (platforms?.length === 1) opts = { ...opts, platform: formatPlatform(platforms[0]!) };
  const run =
    platforms && platforms.length > 1
      ? () => import('./multi-platform.js').then(({ buildPlatforms }) => buildPlatforms(parts, opts, platforms, (one) => buildIn(parts, one)))
      : () => buildIn(parts, opts);
  return opts.onPhase ? collectPhases(opts.onPhase, run) : run();
}

async function buildIn(parts: BuildDeps, opts: BuildOptions): Promise<BuildResult> {
  const platform = targetPlatform(opts.platform);
  if (opts.shmSize !== undefined && !(Number.isSafeInteger(opts.shmSize) && opts.shmSize > 0)) {
    throw new TbuildError('TB_INVALID_ARGUMENT', `--shm-size ${opts.shmSize}: want a positive number of bytes`);
  }
  if (opts.runResources) checkRunResources(opts.runResources);
  // a bad -t fails now, not after every step has run
  for (const name of [...(opts.tags ?? []), ...(opts.outputs ?? []).flatMap((o) => ('names' in o ? (o.names ?? []) : []))]) {
    try {
      normalizeTagReference(name);
    } catch (err) {
      throw new TbuildError('TB_REFERENCE_INVALID', `invalid tag ${JSON.stringify(name)}: ${(err as Error).message}`, { cause: err });
    }
  }
  const annotations = resolveAnnotations(opts.annotations ?? [], platform, opts.outputs?.length ? opts.outputs : [{ type: 'image' }]);
  const buildId = randomBytes(8).toString('hex');
  await sweepDeadScratch(parts.root);
  const tmp = await startBuildScratch(parts.root, buildId);
  const logsRoot = join(parts.root, 'logs');
  const logs = logWriter(join(logsRoot, buildId));
  const userProgress = opts.onProgress ?? (() => {});
  const onProgress = (e: ProgressEvent): void => {
    logs.write(e);
    userProgress(e);
  };
  const file = opts.dockerfile ?? 'Dockerfile';
  const displayFile = file.split('/').pop() || 'Dockerfile';
  const step = internalSteps(buildId, onProgress);
  const remote = typeof opts.context === 'string' ? remoteContextKind(opts.context) : undefined;
  const contextInput = remote
    ? await step(`[internal] load ${remote} ${redactCredentials(opts.context as string)}`, () => remoteContextSource(opts.context as string, tmp, parts.root, opts.signal)).catch(async (err: unknown) => {
        await removeScratch(tmp);
        throw err;
      })
    : opts.context;
  const context = await step(`[internal] load build definition from ${displayFile}`, async (vertex) => {
    const opened = await traced('context transfer', () =>
      openContext(contextInput, {
        root: parts.root,
        dockerfile: opts.dockerfile,
        dockerfileText: opts.dockerfileText,
        signal: opts.signal,
      }),
    );
    const line = 'transferring dockerfile:';
    onProgress({ type: 'status', vertex, id: line, name: line, current: Buffer.byteLength(opened.dockerfileText), completed: true });
    return opened;
  }).catch(async (err: unknown) => {
    await removeScratch(tmp);
    throw err;
  });
  opts.onDockerfile?.(context.dockerfileText);
  const named: Record<string, BuildContext> = {};
  const lease = parts.snapshots.lease();
  const cleanups: Array<() => Promise<void>> = [() => lease.release()];
  try {
    for (const [name, dir] of Object.entries(opts.localContexts ?? {})) {
      // Opened like the build context (its .dockerignore, the stat cache), with no Dockerfile of its own.
      named[name] = await openContext(dir, { root: parts.root, dockerfile: join(dir, '.tbuild-no-dockerfile'), dockerfileText: '', signal: opts.signal });
    }
    for (const [name, url] of Object.entries(opts.remoteContexts ?? {})) {
      // a git repository or a tarball URL: fetched into the build's scratch, then read like a directory
      const input = await step(`[internal] load ${remoteContextKind(url) ?? 'remote context'} ${redactCredentials(url)} for context ${name}`, () => remoteContextSource(url, tmp, parts.root, opts.signal));
      named[name] = await openContext(input, { root: parts.root, dockerfile: '.tbuild-no-dockerfile', dockerfileText: '', signal: opts.signal });
    }
    const dockerfile = parseDockerfile(context.dockerfileText, { file: displayFile });
    checkSyntaxDirective(dockerfile, displayFile);
    const buildArgs = opts.buildArgs ?? {};
    for (const d of dockerfile.diagnostics) {
      if (d.severity !== 'error') onProgress({ type: 'warning', message: d.message, rule: d.rule, line: d.range?.startLine });
    }
    // build checks, as BuildKit runs them before solving: warnings, or a failure with `error=true`
    const findings = buildChecks(dockerfile, buildArgs, opts);
    for (const d of findings) onProgress({ type: 'warning', message: `${d.rule}: ${d.message}`, rule: d.rule, line: d.range?.startLine });
    if (findings.length && checkConfig(dockerfile, buildArgs).error) {
      const first = findings[0]!;
      throw new TbuildError('TB_CHECK_FAILED', lintFailureMessage(findings), {
        range: first.range,
        file: displayFile,
        details: { source: dockerfile.source, diagnostics: findings },
      });
    }
    const resolved = resolveDockerfile(dockerfile, { buildArgs, target: opts.target, buildPlatform: formatPlatform(hostPlatform()), targetPlatform: formatPlatform(platform) });
    // netavark's set-up of the first RUN step's namespace starts when the first step misses the
    // cache (it then overlaps that step): a build that turns out all cached never pays for it
    warmMounts();
    const needsNetwork = (opts.network ?? 'default') === 'default' && resolved.needed.some((i) => resolved.stages[i]!.stage.instructions.some((ins) => ins.kind === 'RUN' && (ins.network ?? 'default') === 'default'));
    const unconsumed = unconsumedArgs(resolved, buildArgs);
    if (unconsumed.length) onProgress({ type: 'warning', message: `One or more build-args [${unconsumed.join(' ')}] were not consumed` });
    const lazyBases = new Map<Digest, LazyBase>();
    const baseLookup = parts.registries
      ? pullingLookup(parts.images, parts.registries, {
          pull: opts.pull,
          auth: opts.registryAuth,
          ...(opts.registryAuthLookup ? { authLookup: opts.registryAuthLookup } : {}),
          buildId,
          emit: onProgress,
          ...(parts.registryClients ? { lazy: { clients: parts.registryClients, bases: lazyBases, images: parts.images } } : {}),
        })
      : parts.images;
    const lookup = await withNamedContexts(baseLookup, opts.namedContexts, dockerfile);
    if (opts.pull && !parts.registries) throw new TbuildError('TB_INVALID_ARGUMENT', '--pull: this engine has no registry access');
    const converted = await traced('convert', () => convert(resolved, lookup, {
      buildArgs,
      network: opts.network ?? 'default',
      ...(grantedEntitlements(opts).length ? { allow: grantedEntitlements(opts) } : {}),
      file: displayFile,
      labels: opts.labels,
      ...(opts.localContexts || opts.remoteContexts ? { localContexts: [...Object.keys(opts.localContexts ?? {}), ...Object.keys(opts.remoteContexts ?? {})] } : {}),
      ...(opts.addHosts?.length ? { extraHosts: opts.addHosts } : {}),
      platform,
      platformExplicit: Boolean(opts.platform?.trim()),
      onWarning: (w) => onProgress({ type: 'warning', message: `${w.rule}: ${w.message}`, rule: w.rule, line: w.range?.startLine }),
    }));
    const epoch = sourceDateEpoch(opts, buildArgs, parts.sourceDateEpoch);
    const proxyEnv = PROXY_ARGS.filter((k) => Object.prototype.hasOwnProperty.call(buildArgs, k)).map((k) => `${k}=${buildArgs[k]}`);
    const env: OpEnv = {
      parts,
      context,
      secrets: opts.secrets ?? {},
      named,
      proxyEnv,
      tmp,
      lease,
      ...(needsNetwork && parts.network?.prewarm ? { warmNetwork: () => parts.network?.prewarm?.() } : {}),
      lazyBases,
      ...(epoch !== undefined ? { sourceDateEpoch: epoch } : {}),
      ...(opts.shmSize !== undefined || opts.ulimits?.length
        ? { runLimits: { ...(opts.shmSize !== undefined ? { shmSize: opts.shmSize } : {}), ...(opts.ulimits?.length ? { ulimits: opts.ulimits.map(parseUlimit) } : {}) } }
        : {}),
      ...(opts.secretLookup ? { secretLookup: opts.secretLookup } : {}),
      ...(opts.runResources && Object.values(opts.runResources).some(Boolean) ? { runResources: opts.runResources } : {}),
      sshAgent: (id) => {
        const agent = opts.ssh?.[id];
        if (agent === undefined) return opts.sshLookup?.(id);
        return typeof agent === 'string' ? () => netConnect(agent) : agent;
      },
    };
    const def = converted.definition;
    const ops = engineOps(env);
    const remote = await openRemoteCaches(parts, opts, onProgress);
    if (remote) cleanups.push(() => remote.close());
    const imported = remote && opts.cacheFrom?.length ? await remote.importAll(opts.cacheFrom, step) : undefined;
    if (imported?.mounts.length) await imported.restoreMounts(cacheMountIds(def));
    let solved;
    try {
      solved = await traced('solve', () => solve(def, [converted.target.vertex], ops, parts.cacheIndex, parts.solver, {
        ...(imported?.size ? { imported } : {}),
        noCache: opts.noCache,
        noCacheFilter: new Set((opts.noCacheFilter ?? []).map((s) => s.toLowerCase())),
        maxParallelism: opts.maxParallelism,
        signal: opts.signal,
        onProgress,
      }));
    } catch (err) {
      throw attachVertex(err, def.meta, displayFile, dockerfile.source);
    }
    const { config, result } = imageConfig(converted.target, solved.results, new Date(), epoch);
    const root = converted.target.vertex;
    const itemsFor = (mode: 'min' | 'max') => cacheItems(def, solved, root, mode, (d) => ops.cacheable(def.vertices.get(d)!));
    if (opts.cacheTo?.some((c) => c.type === 'inline')) {
      const { inlineCache, INLINE_CACHE_KEY } = await import('../remotecache/inline.js');
      (config as unknown as Record<string, unknown>)[INLINE_CACHE_KEY] = inlineCache(itemsFor('min'), result.layers.map((l) => l.diffId));
    }
    const outputs = opts.outputs?.length ? opts.outputs : [{ type: 'image' as const }];
    const registries = parts.registries;
    // Each push is its own step, its layers' bytes shown as BuildKit shows them.
    const push = async (name: string): Promise<void> => {
      const { parseReference } = await import('../images/reference.js');
      const host = parseReference(name).domain;
      const auth = await authFor(host, { auth: opts.registryAuth, ...(opts.registryAuthLookup ? { authLookup: opts.registryAuthLookup } : {}) });
      await step(`pushing ${name} with docker`, () => registries!.push(name, { ...(auth ? { auth } : {}) }).then(() => undefined));
    };
    const { record, digest } = await step('exporting to image', (vertex) =>
      traced('export', () =>
        exportResult(env, config, result, opts.tags ?? [], outputs, {
          ...(opts.outputStream ? { stream: opts.outputStream } : {}),
          ...(registries ? { push } : {}),
          annotations,
          status: (line, completed) => onProgress({ type: 'status', vertex, id: line, name: line, current: 0, ...(completed ? { completed } : {}) }),
        }),
      ),
    );
    const hooks = platformHooks.get(opts);
    hooks?.stored(record);
    for (const spec of opts.cacheTo ?? []) {
      if (spec.type === 'inline') continue;
      const label = spec.type === 'registry' ? 'registry' : 'client directory';
      const exportItems = async (items: CacheExportItem[]): Promise<void> => {
        try {
          await step(`exporting cache to ${label}`, () => remote!.export(spec, items, spec.cacheMounts ? existingMounts(parts.root, cacheMountIds(def)) : []));
        } catch (err) {
          if (!spec.ignoreError || isTbuildError(err, 'TB_BUILD_CANCELLED')) throw err;
          onProgress({ type: 'warning', message: `cache export to ${describeCache(spec)} failed (ignore-error=true): ${(err as Error).message}` });
        }
      };
      // one platform of several: the platforms' records go out together, from one of them
      if (hooks) await hooks.mergeCache(spec, itemsFor(spec.mode), exportItems);
      else await exportItems(itemsFor(spec.mode));
    }
    return { imageId: record.id, digest, image: record, steps: solved.steps };
  } catch (err) {
    if (isTbuildError(err) && err.range && err.details.source === undefined) {
      (err.details as Record<string, unknown>).source = context.dockerfileText;
    }
    throw err;
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    await logs.flush();
    await pruneLogs(logsRoot).catch(() => {});
    await traced('dispose', () => context.dispose().catch(() => {}));
    for (const n of Object.values(named)) await n.dispose().catch(() => {});
    // idle RUN namespaces go with the build: nothing networked outlives it
    await parts.network?.close().catch(() => {});
    await removeScratch(tmp);
  }
}

/**
 * Remove the build's scratch space. Every mount in it should be gone already; any that a failed
 * release left behind is detached first, so `rm` never reaches into a snapshot or the context.
 */
async function removeScratch(tmp: string): Promise<void> {
  for (const p of mountPointsUnder(tmp)) await unmount(p).catch(() => {});
  await rm(tmp, { recursive: true, force: true }).catch(() => {});
}

/**
 * Image lookups through `--build-context NAME=docker-image://REF`: a name matches as written or in
 * its normalized form (`alpine` and `docker.io/library/alpine:latest` are one name). A named
 * context that names a stage would replace that stage, which tbuild does not do: refused.
 */
async function withNamedContexts(images: ImageLookup, named: Record<string, string> | undefined, df: Dockerfile): Promise<ImageLookup> {
  if (!named || !Object.keys(named).length) return images;
  const { normalizeTagReference } = await import('../images/reference.js');
  const norm = (s: string): string => {
    try {
      return normalizeTagReference(s);
    } catch {
      return s;
    }
  };
  const map = new Map<string, string>();
  for (const [name, ref] of Object.entries(named)) {
    if (df.stages.some((st) => st.name?.toLowerCase() === name.toLowerCase())) {
      throw new TbuildError('TB_INVALID_ARGUMENT', `--build-context ${name}: names a stage of the Dockerfile; replacing a stage with a named context is not supported`);
    }
    map.set(name, ref);
    map.set(norm(name), ref);
  }
  return { get: (ref, platform) => images.get(map.get(ref) ?? map.get(norm(ref)) ?? ref, platform) };
}

/**
 * `# syntax=` names the frontend that builds the file. The Dockerfile frontend's own images
 * (`docker/dockerfile:1`, `…:1.7-labs`, by digest too) are what tbuild's built-in frontend
 * implements; any other image would be a different language, which tbuild cannot run.
 */
function checkSyntaxDirective(df: Dockerfile, file: string): void {
  const syntax = df.directives.syntax?.trim();
  if (!syntax) return;
  if (/^(docker\.io\/)?docker\/dockerfile(-upstream)?(:[\w.-]+)?(@sha256:[a-f0-9]{64})?$/.test(syntax)) return;
  const line = df.source.split('\n').findIndex((l) => /^#\s*syntax\s*=/i.test(l)) + 1;
  throw new TbuildError('TB_PARSE_DIRECTIVE', `syntax ${syntax}: tbuild builds Dockerfiles with its built-in frontend (docker/dockerfile) and cannot run other frontend images`, {
    ...(line > 0 ? { range: { startLine: line, endLine: line } } : {}),
    file,
  });
}

/** The checks' findings; a bad `# check=` directive fails the build, a fault in a rule only warns less. */
function buildChecks(df: Dockerfile, buildArgs: Record<string, string>, opts: BuildOptions): Diagnostic[] {
  try {
    return runChecks(df, { buildArgs, target: opts.target });
  } catch (err) {
    if (isTbuildError(err)) throw err;
    return [];
  }
}

/** Point a step's failure at its Dockerfile lines (ranges live beside the graph, not in it). */
function attachVertex(err: unknown, meta: Definition['meta'], file: string, source: string): unknown {
  if (!(err instanceof Error)) return err;
  const vertex = (err as { vertex?: Digest }).vertex;
  const m = vertex ? meta.get(vertex) : undefined;
  if (!m) return err;
  const e = isTbuildError(err) ? err : new TbuildError('TB_BUILD_FAILED', err.message, { cause: err });
  withRange(e, m.range, file);
  (e.details as Record<string, unknown>).step ??= m.name;
  (e.details as Record<string, unknown>).source ??= source;
  return e;
}

/** The registry clients and caches of `--cache-from`/`--cache-to`, when the build asked for any. */
async function openRemoteCaches(parts: BuildDeps, opts: BuildOptions, emit: (e: ProgressEvent) => void) {
  if (!opts.cacheFrom?.length && !opts.cacheTo?.some((c) => c.type !== 'inline')) return undefined;
  const { BuildCaches } = await import('../remotecache/session.js');
  return new BuildCaches({
    store: parts,
    ...(parts.registryClients ? { clients: parts.registryClients } : {}),
    auth: (host) => authFor(host, { auth: opts.registryAuth, ...(opts.registryAuthLookup ? { authLookup: opts.registryAuthLookup } : {}) }),
    warn: (message) => emit({ type: 'warning', message }),
    ...(opts.cacheStoreLookup ? { clientStore: opts.cacheStoreLookup } : {}),
  });
}

/** Every `RUN --mount=type=cache` id the build's steps use. */
function cacheMountIds(def: Definition): string[] {
  const ids = new Set<string>();
  for (const v of def.vertices.values()) {
    if (v.op.type !== 'exec') continue;
    for (const m of v.op.mounts) if (m.type === 'cache') ids.add(m.id);
  }
  return [...ids];
}

function existingMounts(root: string, ids: string[]): Array<{ id: string; dir: string }> {
  return ids.map((id) => ({ id, dir: cacheMountPath(root, id) })).filter((m) => existsSync(m.dir));
}

/**
 * What a cache export records: `mode=max` every cacheable step the build solved with its layers,
 * `mode=min` the layers of the final stage's steps only (those that end up in the image) and the
 * identity of every other step, so an importer computes the same keys without running them.
 */
function cacheItems(def: Definition, solved: Solved, root: Digest, mode: 'min' | 'max', cacheable: (d: Digest) => boolean): CacheExportItem[] {
  const finalStages = new Set(def.meta.get(root)?.stages ?? []);
  const items: CacheExportItem[] = [];
  for (const [d, key] of solved.keys) {
    const result = solved.results.get(d);
    if (!result?.link || !cacheable(d)) continue;
    // before the final stage, min records only the identity: dependents' keys stay reachable
    const inFinal = (def.meta.get(d)?.stages ?? []).some((s) => finalStages.has(s));
    items.push({ key, result, ...(mode === 'min' && !inFinal ? { identityOnly: true } : {}) });
  }
  return items;
}
