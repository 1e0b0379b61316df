import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TbuildError, isTbuildError } from '../errors.js';
import type { ImageRecord } from '../images/types.js';
import { normalizeTagReference, parseReference } from '../images/reference.js';
import { writeStreamAtomic } from '../util/atomic.js';
import type { Digest } from '../util/digest.js';
import { ownedName } from '../util/owned-temp.js';
import { formatPlatform, type Platform } from '../util/platform.js';
import { authFor } from './base-images.js';
import { internalSteps } from './internal-steps.js';
import type { BuildDeps, BuildOptions, BuildResult, OutputSpec, ProgressEvent } from './types.js';
import type { CacheExportItem } from '../remotecache/export.js';
import type { CacheExportSpec } from '../remotecache/types.js';
import { platformHooks, type PlatformHooks } from './platform-hooks.js';

/**
 * `--platform a,b`: one build per platform, side by side (each platform's RUN steps on this CPU
 * or under its emulator), then one result naming them all, as BuildKit's exporters write it: an OCI index in
 * `-o type=oci`, a manifest list pushed under each name (`--push`, `type=registry`), a directory per
 * platform (`linux_arm64/`…) in `-o type=local` and `-o type=tar`. The image store keeps one image
 * per name, so a multi-platform result cannot be stored there, nor written as a `docker load`
 * archive; those outputs, and what is not carried out per platform yet (annotations, a context
 * streamed once), are refused by name. `--cache-to` exports every platform's records together.
 */

type OneBuild = (opts: BuildOptions) => Promise<BuildResult>;

function refuse(what: string): never {
  throw new TbuildError('TB_INVALID_ARGUMENT', `--platform with several platforms: ${what}`);
}

/** `linux/arm64/v8` → `linux_arm64_v8`, BuildKit's directory name for a platform. */
function platformDir(p: Platform): string {
  return formatPlatform(p).replace(/\//g, '_');
}

/** `[2/3] RUN …` → `[linux/arm64 2/3] RUN …`, as BuildKit names a multi-platform build's steps. */
function withPlatform(name: string, p: Platform): string {
  return /^\[[^\]]*\d+\/\d+\]/.test(name) ? `[${formatPlatform(p)} ${name.slice(1)}` : name;
}

function checkOutputs(parts: BuildDeps, opts: BuildOptions): OutputSpec[] {
  const outputs = opts.outputs?.length ? opts.outputs : [{ type: 'image' as const }];
  for (const o of outputs) {
    if (o.type === 'image' && !o.push) refuse('the image store keeps one platform per name: push the result (--push) or write it with -o type=oci|local|tar');
    if (o.type === 'docker') refuse('-o type=docker writes one image per name (docker load): use -o type=oci');
    if ('annotations' in o && o.annotations?.length) refuse('annotations in --output are not supported');
  }
  if (opts.annotations?.length) refuse('--annotation is not supported');
  if (outputs.some((o) => o.type === 'image' && o.push) && !parts.registries) {
    throw new TbuildError('TB_INVALID_ARGUMENT', '--output push=true (type=registry, --push): this engine has no registry access');
  }
  if (typeof opts.context !== 'string') refuse('a context streamed on stdin is read once; give a directory or URL');
  return outputs;
}

/**
 * The platforms' records for each `--cache-to`, joined (a key several platforms share once) and
 * exported by one platform's build; the others wait for that export, keeping their results leased.
 */
function cacheMerger(count: number, signal: AbortSignal) {
  interface Entry {
    lists: CacheExportItem[][];
    all: Promise<void>;
    arrived: () => void;
    exported: Promise<void>;
    finished: () => void;
  }
  const byExport = new Map<CacheExportSpec, Entry>();
  const cancelled = () => new TbuildError('TB_BUILD_CANCELLED', 'cache export: another platform failed');
  const untilAbort = (settle: (resolve: () => void) => void): Promise<void> => {
    const p = new Promise<void>((resolve, reject) => {
      settle(resolve);
      signal.addEventListener('abort', () => reject(cancelled()), { once: true });
    });
    p.catch(() => {});
    return p;
  };
  return async (spec: CacheExportSpec, items: CacheExportItem[], exportItems: (items: CacheExportItem[]) => Promise<void>, exporter: boolean): Promise<void> => {
    // a platform that failed before handing its records over will never hand them over
    if (signal.aborted) throw cancelled();
    let entry = byExport.get(spec);
    if (!entry) {
      const e: Partial<Entry> = { lists: [] };
      e.all = untilAbort((r) => (e.arrived = r));
      e.exported = untilAbort((r) => (e.finished = r));
      byExport.set(spec, (entry = e as Entry));
    }
    entry.lists.push(items);
    if (entry.lists.length === count) entry.arrived();
    if (!exporter) return entry.exported;
    try {
      await entry.all;
      const seen = new Set<string>();
      await exportItems(entry.lists.flat().filter((i) => !seen.has(i.key) && (seen.add(i.key), true)));
    } finally {
      entry.finished();
    }
  };
}

async function writeTo(dest: string, stream: Readable, out: NodeJS.WritableStream | undefined): Promise<void> {
  if (dest !== '-') return writeStreamAtomic(dest, stream);
  if (!out) throw new TbuildError('TB_INVALID_ARGUMENT', '--output dest=- needs an output stream, and this caller gave none');
  await pipeline(stream, out, { end: false });
}

export async function buildPlatforms(parts: BuildDeps, opts: BuildOptions, platforms: Platform[], one: OneBuild): Promise<BuildResult> {
  const outputs = checkOutputs(parts, opts);
  const emit = (e: ProgressEvent) => opts.onProgress?.(e);
  const step = internalSteps(randomBytes(8).toString('hex'), emit);
  const before = new Set((await parts.images.list()).map((i) => i.id));
  const scratch = join(parts.root, 'tmp', ownedName('platforms'));
  const built: Array<{ platform: Platform; record: ImageRecord; result: BuildResult }> = [];
  // every image a platform's build stored, a failed one's included
  const stored = new Set<Digest>();
  try {
    // The platforms build side by side, as BuildKit builds them; the first failure cancels the rest.
    const cancel = new AbortController();
    const onAbort = () => cancel.abort(opts.signal?.reason);
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
    const { outputStream: _stream, tags: _tags, signal: _signal, ...rest } = opts;
    const merge = cacheMerger(platforms.length, cancel.signal);
    const settled = await Promise.allSettled(
      platforms.map(async (platform) => {
        const dir = platformDir(platform);
        // the image is kept (unnamed, until the end) only for the outputs that list the platforms' images
        const perPlatform: OutputSpec[] = outputs.some((o) => o.type === 'oci' || o.type === 'image') ? [{ type: 'image', names: [] }] : [];
        for (const [i, o] of outputs.entries()) {
          if (o.type === 'local') perPlatform.push({ type: 'local', dest: join(o.dest, dir) });
          if (o.type === 'tar') perPlatform.push({ type: 'local', dest: join(scratch, `tar-${i}`, dir) });
        }
        const perOpts: BuildOptions = {
          ...rest,
          platform: formatPlatform(platform),
          outputs: perPlatform,
          signal: cancel.signal,
          onProgress: (e) => emit(e.type === 'vertex' ? { ...e, vertex: { ...e.vertex, name: withPlatform(e.vertex.name, platform) } } : e),
        };
        const hooks: PlatformHooks = {
          // the first platform exports every platform's cache records, once all have them
          mergeCache: (spec, items, exportItems) => merge(spec, items, exportItems, platform === platforms[0]),
          stored: (record) => stored.add(record.id),
        };
        platformHooks.set(perOpts, hooks);
        try {
          const result = await one(perOpts);
          if (!result.image) throw new TbuildError('TB_INTERNAL', `the ${formatPlatform(platform)} build stored no image`);
          built.push({ platform, record: result.image, result });
        } catch (err) {
          cancel.abort(err);
          throw err;
        }
      }),
    );
    opts.signal?.removeEventListener('abort', onAbort);
    // the error that stopped the build, not the cancellations it caused
    const failures = settled.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    if (failures.length) throw failures.find((e) => !isTbuildError(e, 'TB_BUILD_CANCELLED')) ?? failures[0];
    built.sort((a, b) => platforms.indexOf(a.platform) - platforms.indexOf(b.platform));
    let digest: Digest | undefined;
    for (const [i, o] of outputs.entries()) {
      const names = ('names' in o && o.names?.length ? o.names : (opts.tags ?? [])).map((n) => normalizeTagReference(n));
      if (o.type === 'oci') {
        const { packOciIndexLayout } = await import('../images/oci-layout.js');
        await step('exporting to oci image format', () => packOciIndexLayout(parts, built, names, (d) => (digest ??= d)).then((s) => writeTo(o.dest, s, opts.outputStream)));
      } else if (o.type === 'tar') {
        await step('exporting to client tarball', () => writeTo(o.dest, parts.layers.tarFromDir(join(scratch, `tar-${i}`)), opts.outputStream));
      } else if (o.type === 'image') {
        if (!names.length) throw new TbuildError('TB_INVALID_ARGUMENT', 'push needs a name: give -t NAME or name= in --output');
        const registries = parts.registries;
        if (!registries) throw new TbuildError('TB_INVALID_ARGUMENT', '--output push=true (type=registry, --push): this engine has no registry access');
        for (const name of names) {
          const auth = await authFor(parseReference(name).domain, { auth: opts.registryAuth, ...(opts.registryAuthLookup ? { authLookup: opts.registryAuthLookup } : {}) });
          const pushed = await step(`pushing manifest list ${name}`, () =>
            registries.push(name, { ...(auth ? { auth } : {}), platforms: built.map((b) => ({ image: b.record.id, platform: b.platform })) }),
          );
          digest ??= pushed.digest;
        }
      }
    }
    const first = built[0]!;
    // the index's digest (the pushed list's, or the OCI index's); local and tar outputs have no
    // index: the first platform's image stands for the result
    return { imageId: digest ?? first.result.imageId, digest: digest ?? first.result.digest, image: first.record, steps: built.flatMap((b) => b.result.steps) };
  } finally {
    await rm(scratch, { recursive: true, force: true });
    // the platforms' images were made for the exports: only an image that was there stays
    for (const id of stored) if (!before.has(id)) await parts.images.remove(id, { force: true }).catch(() => {});
  }
}
