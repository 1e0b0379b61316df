import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createReadStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isRoot, mountsUnder, tempDir } from '../support/tmp.js';
import { BUSYBOX_TAR } from '../support/cli.js';
import { Engine } from '../../src/engine.js';
import { isTbuildError } from '../../src/errors.js';

/** `runResources`: the classic builder's cgroup limits on every RUN step's container. */
describe.runIf(isRoot)('build run resources', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let engine: Engine;

  beforeAll(async () => {
    tmp = await tempDir('tb-runres-');
    engine = await Engine.open({ root: join(tmp.path, 'root') });
    await engine.load(createReadStream(BUSYBOX_TAR));
  }, 60_000);

  afterAll(async () => {
    await engine?.close();
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  });

  test('a RUN step over the memory limit fails with the reason, and a limit is not part of the cache key', async () => {
    const dir = join(tmp.path, 'oom');
    await mkdir(dir);
    await writeFile(join(dir, 'Dockerfile'), 'FROM busybox:local\nRUN dd if=/dev/zero of=/dev/null bs=200M count=1\n');
    const err = await engine.build({ context: dir, network: 'none', runResources: { memory: 32 << 20 } }).catch((e: unknown) => e);
    expect(isTbuildError(err, 'TB_EXEC_NONZERO'), String(err)).toBe(true);
    expect((err as Error).message).toMatch(/exit code: 137 \(killed: out of memory/);
    // without the limit the same step succeeds
    const ok = await engine.build({ context: dir, network: 'none' });
    expect(ok.imageId).toMatch(/^sha256:/);
    const again = await engine.build({ context: dir, network: 'none', runResources: { memory: 512 << 20 } });
    expect(again.steps.filter((s) => s.name.includes('RUN')).every((s) => s.cached)).toBe(true);
  }, 120_000);

  test('bad limits are refused before anything runs', async () => {
    const cases: Array<[Parameters<Engine['build']>[0]['runResources'], RegExp]> = [
      [{ memory: 1 << 20 }, /Minimum memory limit allowed is 6MB/],
      [{ memorySwap: 64 << 20 }, /always set the Memory limit when using Memoryswap limit/],
      [{ cpuPeriod: 10 }, /CPU cfs period can not be less than 1ms/],
      [{ cpuShares: 1.5 }, /cpuShares 1.5: want a whole number/],
    ];
    for (const [runResources, message] of cases) {
      const err = await engine.build({ context: tmp.path, dockerfileText: 'FROM busybox:local\n', network: 'none', runResources }).catch((e: unknown) => e);
      expect(isTbuildError(err, 'TB_INVALID_ARGUMENT'), String(err)).toBe(true);
      expect((err as Error).message).toMatch(message);
    }
  });
});
