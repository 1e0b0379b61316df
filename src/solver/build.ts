import { appendFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { EngineParts } from '../engine.js';
import type { BuildOptions, BuildResult, ProgressEvent } from './types.js';
import { TbuildError, isTbuildError, withRange } from '../errors.js';
import { digestHex, type Digest } from '../util/digest.js';
import { parseDockerfile } from '../parser/parse.js';
import { resolveDockerfile } from '../parser/resolve.js';
import { openContext } from './context/open.js';
import { convert } from './convert/index.js';
import { solve, SolverShared } from './scheduler.js';
import { engineOps } from './ops/index.js';
import type { OpEnv } from './ops/env.js';
import { exportResult, imageConfig } from './export.js';

/** One SolverShared per engine: concurrent builds on it share in-flight work. */
const sharedByEngine = new WeakMap<EngineParts, SolverShared>();

function sharedFor(parts: EngineParts): SolverShared {
  let s = sharedByEngine.get(parts);
  if (!s) {
    s = new SolverShared(Math.max(2, Number(process.env.TBUILD_MAX_PARALLELISM) || 8));
    sharedByEngine.set(parts, s);
  }
  return s;
}

/** Every step's full output, never clipped: `<root>/logs/<build-id>/<vertex>.log`. */
function logWriter(dir: string): { write(e: ProgressEvent): void; flush(): Promise<void> } {
  let chain: Promise<void> = mkdir(dir, { recursive: true }).then(() => {});
  return {
    write(e) {
      if (e.type !== 'log') return;
      const file = join(dir, `${digestHex(e.vertex).slice(0, 24)}.log`);
      const data = e.data;
      chain = chain.then(() => appendFile(file, data)).catch(() => {});
    },
    flush: () => chain,
  };
}

function hostPlatform(spec: string | undefined): { os: string; architecture: string; variant?: string } {
  const [os = 'linux', architecture = 'amd64', variant] = (spec ?? 'linux/amd64').split('/');
  return { os, architecture, ...(variant ? { variant } : {}) };
}

/**
 * Build a Dockerfile: parse, resolve the stages the target needs, convert them to a graph, solve it
 * (cache hits, parallel execution), export the image and any outputs.
 */
export async function build(parts: EngineParts, opts: BuildOptions): Promise<BuildResult> {
  const buildId = randomBytes(8).toString('hex');
  const tmp = join(parts.root, 'tmp', `b-${buildId}`);
  const logs = logWriter(join(parts.root, 'logs', buildId));
  const userProgress = opts.onProgress ?? (() => {});
  const onProgress = (e: ProgressEvent): void => {
    logs.write(e);
    userProgress(e);
  };
  const context = await openContext(opts.context, {
    root: parts.root,
    dockerfile: opts.dockerfile,
    dockerfileText: opts.dockerfileText,
    signal: opts.signal,
  });
  const file = opts.dockerfile ?? 'Dockerfile';
  const displayFile = file.split('/').pop() || 'Dockerfile';
  try {
    const dockerfile = parseDockerfile(context.dockerfileText, { file: displayFile });
    for (const d of dockerfile.diagnostics) {
      if (d.severity !== 'error') onProgress({ type: 'warning', message: d.message, rule: d.rule, line: d.range?.startLine });
    }
    const buildArgs = opts.buildArgs ?? {};
    const resolved = resolveDockerfile(dockerfile, { buildArgs, target: opts.target, targetPlatform: opts.platform });
    const converted = await convert(resolved, parts.images, {
      buildArgs,
      network: opts.network === 'host' ? 'host' : 'none',
      file: displayFile,
      labels: opts.labels,
      platform: hostPlatform(opts.platform),
    });
    const env: OpEnv = { parts, context, secrets: opts.secrets ?? {}, tmp };
    const def = converted.definition;
    let solved;
    try {
      solved = await solve(def, [converted.target.vertex], engineOps(env), parts.cacheIndex, sharedFor(parts), {
        noCache: opts.noCache,
        noCacheFilter: new Set((opts.noCacheFilter ?? []).map((s) => s.toLowerCase())),
        maxParallelism: opts.maxParallelism,
        signal: opts.signal,
        onProgress,
      });
    } catch (err) {
      throw attachVertex(err, def.meta, displayFile, dockerfile.source);
    }
    const { config, result } = imageConfig(converted.target, solved.results, new Date());
    const outputs = opts.outputs?.length ? opts.outputs : [{ type: 'image' as const }];
    const { record, digest } = await exportResult(env, config, result, opts.tags ?? [], outputs);
    return { imageId: record.id, digest, image: record, steps: solved.steps };
  } catch (err) {
    if (isTbuildError(err) && err.range && err.details.source === undefined) {
      (err.details as Record<string, unknown>).source = context.dockerfileText;
    }
    throw err;
  } finally {
    await logs.flush();
    await context.dispose().catch(() => {});
    await rm(tmp, { recursive: true, force: true }).catch(() => {});
  }
}

/** Point a step's failure at its Dockerfile lines (ranges live beside the graph, not in it). */
function attachVertex(err: unknown, meta: Map<Digest, { range?: import('../errors.js').SourceRange; name: string }>, file: string, source: string): unknown {
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
