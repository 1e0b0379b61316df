import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createReadStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isRoot, mountsUnder, tempDir } from '../support/tmp.js';
import { BUSYBOX_TAR } from '../support/cli.js';
import { Engine } from '../../src/engine.js';
import { isTbuildError } from '../../src/errors.js';
import type { ProgressEvent } from '../../src/build/types.js';

/** BuildKit's warning for build args nothing declares; `-t` checked before any step runs. */
describe.runIf(isRoot)('build args and tags', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let engine: Engine;
  let ctx: string;

  beforeAll(async () => {
    tmp = await tempDir('tb-args-');
    engine = await Engine.open({ root: join(tmp.path, 'root') });
    await engine.load(createReadStream(BUSYBOX_TAR));
    ctx = join(tmp.path, 'ctx');
    await mkdir(ctx);
    await writeFile(join(ctx, 'Dockerfile'), 'ARG GLOBAL=g\nFROM busybox:local AS other\nARG ONLY_OTHER\nFROM busybox:local\nARG USED\nRUN echo "$USED"\n');
  }, 60_000);

  afterAll(async () => {
    await engine?.close();
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  });

  test('args no built stage declares are named in one warning; proxies, BUILDKIT_* and SOURCE_DATE_EPOCH never are', async () => {
    const events: ProgressEvent[] = [];
    await engine.build({
      context: ctx,
      network: 'none',
      buildArgs: { USED: '1', GLOBAL: '2', ZED: '3', ONLY_OTHER: '4', AAA: '5', HTTP_PROXY: 'http://p', BUILDKIT_INLINE_CACHE: '1', SOURCE_DATE_EPOCH: '1700000000' },
      onProgress: (e) => events.push(e),
    });
    const warnings = events.flatMap((e) => (e.type === 'warning' ? [e.message] : []));
    expect(warnings).toContain('One or more build-args [AAA ONLY_OTHER ZED] were not consumed');
  }, 120_000);

  test('--shm-size and --ulimit reach every RUN step, and key it', async () => {
    const dir = join(tmp.path, 'limits');
    await mkdir(dir);
    await writeFile(join(dir, 'Dockerfile'), 'FROM busybox:local\nRUN df -k /dev/shm | tail -1 > /shm && ulimit -n > /nofile && ulimit -Hn > /nofile-hard\n');
    const out = join(tmp.path, 'limits-out');
    await engine.build({ context: dir, network: 'none', shmSize: 128 * 1024 * 1024, ulimits: ['nofile=1024:2048'], outputs: [{ type: 'local', dest: out }] });
    const { readFile } = await import('node:fs/promises');
    expect((await readFile(join(out, 'shm'), 'utf8')).split(/\s+/)[1]).toBe(String(128 * 1024));
    expect(await readFile(join(out, 'nofile'), 'utf8')).toBe('1024\n');
    expect(await readFile(join(out, 'nofile-hard'), 'utf8')).toBe('2048\n');
    // other limits are another step: not taken from the cache
    const events: ProgressEvent[] = [];
    await engine.build({ context: dir, network: 'none', ulimits: ['nofile=512:512'], outputs: [{ type: 'local', dest: join(tmp.path, 'limits-out2') }], onProgress: (e) => events.push(e) });
    expect(events.some((e) => e.type === 'vertex' && e.vertex.name.includes('RUN df') && e.vertex.completed && !e.vertex.cached)).toBe(true);
    expect(await readFile(join(tmp.path, 'limits-out2', 'nofile'), 'utf8')).toBe('512\n');
    await expect(engine.build({ context: dir, ulimits: ['nofile=lots'] })).rejects.toThrow(/invalid ulimit argument: nofile=lots/);
  }, 120_000);

  test('a bad -t fails before any step runs, naming it', async () => {
    const events: ProgressEvent[] = [];
    const err = await engine.build({ context: ctx, tags: ['Not/Lower:Case'], network: 'none', onProgress: (e) => events.push(e) }).catch((e: unknown) => e);
    expect(isTbuildError(err, 'TB_REFERENCE_INVALID')).toBe(true);
    expect((err as Error).message).toMatch(/invalid tag "Not\/Lower:Case"/);
    expect(events.filter((e) => e.type === 'vertex')).toEqual([]);
  }, 60_000);
});
