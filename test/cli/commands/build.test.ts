import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import { mkdir, writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, isRoot, mountsUnder } from '../../support/tmp.js';
import { runCli, BUSYBOX_TAR } from '../../support/cli.js';
import { openParts } from '../../support/engine-parts.js';

let t: { path: string; cleanup: () => Promise<void> };
let root: string;

describe.runIf(isRoot)('tbuild build (CLI)', () => {
  beforeAll(async () => {
    t = await tempDir('tbcli-');
    root = join(t.path, 'root');
    const load = await runCli(['load', '-i', BUSYBOX_TAR], { root });
    expect(load.code).toBe(0);
  }, 60_000);

  afterAll(async () => {
    expect(await mountsUnder(t.path)).toEqual([]);
    await t.cleanup();
  });

  test('a failing RUN shows the step, its output, the Dockerfile lines and the exit code', async () => {
    const ctx = join(t.path, 'fail');
    await mkdir(ctx, { recursive: true });
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:local\nRUN echo tail-line && exit 3\n');
    const r = await runCli(['build', '--progress', 'plain', ctx], { root });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('tail-line');
    expect(r.stderr).toContain('>>> RUN echo tail-line && exit 3');
    expect(r.stderr).toContain('process "/bin/sh -c echo tail-line && exit 3" did not complete successfully: exit code: 3');
  }, 60_000);

  test('--build-context NAME=docker-image://REF stands in for FROM NAME and COPY --from=NAME; NAME=DIR feeds COPY --from; other kinds and stage names are refused', async () => {
    const ctx = join(t.path, 'named');
    await mkdir(ctx, { recursive: true });
    await writeFile(join(ctx, 'Dockerfile'), 'FROM base\nCOPY --from=tools /bin/busybox /tools-busybox\nRUN test -x /tools-busybox && echo named-ok > /named\n');
    const ok = await runCli(['build', '-t', 'named:1', '--build-context', 'base=docker-image://busybox:local', '--build-context', 'tools=docker-image://busybox:local', ctx], { root });
    expect(ok.code, ok.stderr).toBe(0);
    const run = await runCli(['run', '--rm', 'named:1', 'cat', '/named'], { root });
    expect(run.stdout).toBe('named-ok\n');
    // Without the named contexts, `base` is an image no one has.
    const missing = await runCli(['build', ctx], { root });
    expect(missing.code).not.toBe(0);
    // A local directory: COPY --from reads it (its .dockerignore applies); FROM cannot start from it.
    const extra = join(t.path, 'named-extra');
    await mkdir(extra, { recursive: true });
    await writeFile(join(extra, 'lib.txt'), 'from the named dir\n');
    await writeFile(join(extra, 'skip.txt'), 'ignored\n');
    await writeFile(join(extra, '.dockerignore'), 'skip.txt\n');
    await writeFile(join(ctx, 'Dockerfile.local'), 'FROM busybox:local\nCOPY --from=extra . /extra/\n');
    const fromDir = await runCli(['build', '-t', 'named:2', '-f', join(ctx, 'Dockerfile.local'), '--build-context', `extra=${extra}`, ctx], { root });
    expect(fromDir.code, fromDir.stderr).toBe(0);
    expect((await runCli(['run', '--rm', 'named:2', 'ls', '/extra'], { root })).stdout).toBe('lib.txt\n');
    const local = await runCli(['build', '--build-context', `base=${extra}`, ctx], { root });
    expect(local.code).not.toBe(0);
    expect(local.stderr).toMatch(/base is a local named context \(--build-context\): FROM cannot start from a directory/);
    const layout = await runCli(['build', '--build-context', 'base=oci-layout:///tmp/no-layout', ctx], { root });
    expect(layout.stderr).toMatch(/oci-layout contexts are not supported by tbuild/);
    await writeFile(join(ctx, 'Dockerfile.stage'), 'FROM busybox:local AS base\nFROM base\n');
    const stage = await runCli(['build', '-f', join(ctx, 'Dockerfile.stage'), '--build-context', 'base=docker-image://busybox:local', ctx], { root });
    expect(stage.stderr).toMatch(/names a stage of the Dockerfile/);
  }, 120_000);

  test('-q prints the image id; --iidfile and --metadata-file are written; -t names the image', async () => {
    const ctx = join(t.path, 'ok');
    await mkdir(ctx, { recursive: true });
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:local\nARG WHO\nRUN echo "hi $WHO" > /hi\n');
    const iid = join(t.path, 'iid');
    const meta = join(t.path, 'meta.json');
    const r = await runCli(['build', '-q', '-t', 'cli-test:1', '--build-arg', 'WHO=you', '--iidfile', iid, '--metadata-file', meta, ctx], { root });
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await readFile(iid, 'utf8')).toBe(id);
    const m = JSON.parse(await readFile(meta, 'utf8')) as Record<string, string>;
    expect(m['containerimage.config.digest']).toBe(id);
    expect(m['containerimage.digest']).toMatch(/^sha256:/);
    const parts = await openParts(root);
    expect((await parts.images.get('cli-test:1'))?.id).toBe(id);
    const hist = (await parts.images.get(id))!.config.history!.map((h) => h.created_by);
    expect(hist).toContain('RUN |1 WHO=you /bin/sh -c echo "hi $WHO" > /hi # buildkit');
  }, 60_000);
});
