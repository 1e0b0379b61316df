import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import { mkdir, writeFile, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, mountsUnder, isRoot } from '../support/tmp.js';
import { openParts, loadBusybox, buildDeps } from '../support/engine-parts.js';
import type { BuildDeps } from '../../src/build/types.js';
import { build } from '../../src/build/build.js';
import type { EngineParts } from '../../src/engine.js';
import type { BuildOptions, ProgressEvent } from '../../src/build/types.js';
import { isTbuildError } from '../../src/errors.js';
import { renderError } from '../../src/cli/render-error.js';
import { withView } from '../../src/worker/snapshot.js';

let root: { path: string; cleanup: () => Promise<void> };
let parts: EngineParts;
let deps: BuildDeps;

async function ctxDir(files: Record<string, string>): Promise<string> {
  const dir = join(root.path, 'ctx', Math.random().toString(36).slice(2));
  for (const [p, c] of Object.entries(files)) {
    await mkdir(join(dir, p, '..'), { recursive: true });
    await writeFile(join(dir, p), c);
  }
  return dir;
}

async function run(dir: string, extra: Partial<BuildOptions> = {}) {
  const events: ProgressEvent[] = [];
  const result = await build(deps, { context: dir, onProgress: (e) => events.push(e), ...extra });
  const logs = events.filter((e) => e.type === 'log').map((e) => Buffer.from(e.data).toString()).join('');
  return { result, events, logs };
}

/** Read a file from the built image's filesystem. */
async function readInImage(result: { image?: { layers: Array<{ snapshot: string }> } }, path: string): Promise<string> {
  const top = result.image!.layers.at(-1)!.snapshot;
  const tmp = join(root.path, 'tmp');
  return withView({ parts, tmp } as never, { snapshot: top, layers: [] }, (dir) => readFile(join(dir, path), 'utf8'));
}

describe.runIf(isRoot)('build (runc, busybox)', () => {
  beforeAll(async () => {
    root = await tempDir('tbs-');
    parts = await openParts(root.path);
    deps = buildDeps(parts);
    await loadBusybox(parts);
  }, 60_000);

  afterAll(async () => {
    expect(await mountsUnder(root.path)).toEqual([]);
    await root.cleanup();
  });

  test('multi-stage build with RUN output, COPY and COPY --from; a rebuild is all CACHED', async () => {
    const dir = await ctxDir({
      'a.txt': 'from context\n',
      Dockerfile: [
        'FROM busybox:local AS gen',
        'RUN echo generated > /gen.txt && echo hello-from-run',
        'FROM busybox:local',
        'COPY a.txt /app/',
        'COPY --from=gen /gen.txt /app/gen.txt',
        'WORKDIR /app',
        'RUN cat a.txt gen.txt > both.txt',
        'ENV GREETING=hi',
        'CMD ["cat", "/app/both.txt"]',
      ].join('\n'),
    });
    const first = await run(dir, { tags: ['int:1'] });
    expect(first.logs).toContain('hello-from-run');
    expect(await readInImage(first.result, '/app/both.txt')).toBe('from context\ngenerated\n');
    const cfg = first.result.image!.config;
    expect(cfg.config.Cmd).toEqual(['cat', '/app/both.txt']);
    expect(cfg.config.WorkingDir).toBe('/app');
    expect(cfg.config.Env).toContain('GREETING=hi');
    expect(cfg.history!.map((h) => h.created_by)).toContain('RUN /bin/sh -c cat a.txt gen.txt > both.txt # buildkit');
    const nonEmpty = cfg.history!.filter((h) => !h.empty_layer).length;
    expect(nonEmpty).toBe(cfg.rootfs.diff_ids.length);
    expect((await parts.images.get('int:1'))?.id).toBe(first.result.imageId);
    // every step's full output is on disk
    const logRoot = join(root.path, 'logs');
    expect((await readdir(logRoot)).length).toBeGreaterThan(0);

    const second = await run(dir, { tags: ['int:1'] });
    const steps = second.result.steps.filter((s) => !s.name.startsWith('[internal]'));
    expect(steps.length).toBeGreaterThan(0);
    expect(steps.every((s) => s.cached)).toBe(true);
    expect(second.result.imageId).toBe(first.result.imageId);

    const third = await run(dir, { noCache: true });
    expect(third.result.steps.some((s) => s.cached)).toBe(false);
  }, 60_000);

  test('a failing RUN reports its exit code, its output and its Dockerfile line', async () => {
    const dir = await ctxDir({ Dockerfile: 'FROM busybox:local\nRUN echo before-fail\nRUN echo oops-out && exit 3\n' });
    const err = await run(dir).catch((e: unknown) => e);
    expect(isTbuildError(err, 'TB_EXEC_NONZERO')).toBe(true);
    const e = err as import('../../src/errors.js').TbuildError;
    expect(e.message).toBe('process "/bin/sh -c echo oops-out && exit 3" did not complete successfully: exit code: 3');
    expect(e.range?.startLine).toBe(3);
    expect(e.details.outputTail).toContain('oops-out');
    const text = renderError(e);
    expect(text).toContain('exit code: 3');
    expect(await mountsUnder(root.path)).toEqual([]);
  }, 60_000);

  test('RUN --mount: secrets reach the step but no layer, history or key; cache mounts persist; binds read the context', async () => {
    const secretFile = join(root.path, 'secret.txt');
    await writeFile(secretFile, 's3cr3t-value');
    const dir = await ctxDir({
      'in.txt': 'bound\n',
      Dockerfile: [
        'FROM busybox:local',
        'RUN --mount=type=secret,id=tok,required=true cat /run/secrets/tok | wc -c > /secret-len',
        'RUN --mount=type=secret,id=tok,env=TOK sh -c \'echo ${#TOK}\' > /secret-env-len',
        'RUN --mount=type=bind,target=/ctx cat /ctx/in.txt > /bound',
        'RUN --mount=type=cache,target=/c,id=solver-test-cache touch /c/$(cat /proc/sys/kernel/random/uuid) && ls /c | wc -l > /cache-count',
      ].join('\n'),
    });
    const first = await run(dir, { secrets: { tok: { src: secretFile } } });
    expect((await readInImage(first.result, '/secret-len')).trim()).toBe('12');
    expect((await readInImage(first.result, '/secret-env-len')).trim()).toBe('12');
    expect(await readInImage(first.result, '/bound')).toBe('bound\n');
    expect((await readInImage(first.result, '/cache-count')).trim()).toBe('1');
    const history = JSON.stringify(first.result.image!.config.history);
    expect(history).not.toContain('s3cr3t');
    await expect(readInImage(first.result, '/run/secrets/tok')).rejects.toThrow();
    // a different secret value does not bust the cache
    await writeFile(secretFile, 'other-value!');
    const again = await run(dir, { secrets: { tok: { src: secretFile } } });
    expect(again.result.steps.filter((s) => !s.name.startsWith('[internal]') && !s.name.includes('FROM')).every((s) => s.cached)).toBe(true);
    // the cache mount kept its file across builds
    const rebuilt = await run(dir, { secrets: { tok: { src: secretFile } }, noCache: true });
    expect((await readInImage(rebuilt.result, '/cache-count')).trim()).toBe('2');
    // a required secret that is missing fails the step
    const err = await run(dir, { noCache: true }).catch((e: unknown) => e);
    expect(isTbuildError(err, 'TB_SECRET_NOT_FOUND')).toBe(true);
  }, 90_000);

  test('two concurrent builds on one engine run a shared step once and both get the image', async () => {
    const dir = await ctxDir({
      Dockerfile: 'FROM busybox:local\nRUN sleep 0.5 && cat /proc/sys/kernel/random/uuid > /stamp && echo ran-shared-step\n',
    });
    const [a, b] = await Promise.all([run(dir, { tags: ['conc:a'] }), run(dir, { tags: ['conc:b'] })]);
    expect(a.result.imageId).toBe(b.result.imageId);
    expect(await readInImage(a.result, '/stamp')).toBe(await readInImage(b.result, '/stamp'));
    // both builds show the one run's output
    expect(a.logs).toContain('ran-shared-step');
    expect(b.logs).toContain('ran-shared-step');
    const ranBoth = [a, b].filter((r) => r.result.steps.some((s) => s.name.includes('RUN') && !s.cached));
    expect(ranBoth.length).toBeGreaterThanOrEqual(1);
  }, 60_000);

  test('COPY --link copies onto scratch and lays the layer on top: a changed base keeps the copy cached', async () => {
    const dir = await ctxDir({
      'a.txt': 'linked\n',
      Dockerfile: 'FROM busybox:local\nARG B\nRUN echo $B > /b\nCOPY --link --chown=1234:1234 a.txt /app/a.txt\nRUN cat /app/a.txt /b && ls -ln /app\n',
    });
    const first = await run(dir, { buildArgs: { B: '1' } });
    expect(await readInImage(first.result, '/app/a.txt')).toBe('linked\n');
    expect(first.logs).toMatch(/1234 +1234 .* a\.txt/);
    const second = await run(dir, { buildArgs: { B: '2' } });
    const onScratch = second.result.steps.find((s) => s.name.includes('(on scratch)'));
    expect(onScratch?.cached).toBe(true);
    expect(await readInImage(second.result, '/b')).toBe('2\n');
    expect(await readInImage(second.result, '/app/a.txt')).toBe('linked\n');
    const cfg = second.result.image!.config;
    expect(cfg.history!.filter((h) => !h.empty_layer).length).toBe(cfg.rootfs.diff_ids.length);
    // --chown names are looked up in the stage the layer lands on
    const named = await run(
      await ctxDir({
        'a.txt': 'x\n',
        Dockerfile: "FROM busybox:local\nRUN echo 'lk:x:1300:1301::/:/bin/sh' >> /etc/passwd\nCOPY --link --chown=lk a.txt /a\nRUN ls -ln /a\n",
      }),
    );
    expect(named.logs).toMatch(/1300 +1301 .* \/a/);
  }, 60_000);

  test('cancelling a build kills its container and releases every mount', async () => {
    const dir = await ctxDir({ Dockerfile: 'FROM busybox:local\nRUN sleep 30\n' });
    const ac = new AbortController();
    const t0 = Date.now();
    const p = run(dir, { signal: ac.signal }).catch((e: unknown) => e);
    setTimeout(() => ac.abort(), 1000);
    const err = await p;
    expect(isTbuildError(err, 'TB_BUILD_CANCELLED')).toBe(true);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(await mountsUnder(root.path)).toEqual([]);
  }, 60_000);

  test('build checks warn, and fail the build with check=error=true', async () => {
    const warn = await run(await ctxDir({ Dockerfile: 'FROM busybox:local\nCMD echo hi\n' }));
    expect(warn.events.some((e) => e.type === 'warning' && e.rule === 'JSONArgsRecommended' && e.line === 2)).toBe(true);
    const err = await run(await ctxDir({ Dockerfile: '# check=error=true\nFROM busybox:local\nCMD echo hi\n' })).catch((e: unknown) => e);
    expect(isTbuildError(err, 'TB_CHECK_FAILED')).toBe(true);
    expect((err as Error).message).toContain('JSONArgsRecommended');
  }, 60_000);

  test('FROM an image that is not in the store is TB_IMAGE_NOT_FOUND', async () => {
    const dir = await ctxDir({ Dockerfile: 'FROM nosuchimage:1\nRUN true\n' });
    const err = await run(dir).catch((e: unknown) => e);
    expect(isTbuildError(err, 'TB_IMAGE_NOT_FOUND')).toBe(true);
    expect((err as Error).message).toContain('nosuchimage:1');
  });
});
