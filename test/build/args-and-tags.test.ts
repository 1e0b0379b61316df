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

  test('a bad -t fails before any step runs, naming it', async () => {
    const events: ProgressEvent[] = [];
    const err = await engine.build({ context: ctx, tags: ['Not/Lower:Case'], network: 'none', onProgress: (e) => events.push(e) }).catch((e: unknown) => e);
    expect(isTbuildError(err, 'TB_REFERENCE_INVALID')).toBe(true);
    expect((err as Error).message).toMatch(/invalid tag "Not\/Lower:Case"/);
    expect(events.filter((e) => e.type === 'vertex')).toEqual([]);
  }, 60_000);
});
