import { afterEach, expect, test } from 'vitest';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { decompress as layerDecompress, decompressChunks } from '../../src/cache/layer/decompress.js';
import { decompress as archiveDecompress } from '../../src/worker/file/archive.js';
import { DEFAULT_DECOMPRESSION_LIMITS, setDecompressionLimits } from '../../src/util/decompression-limits.js';
import { isTbuildError } from '../../src/errors.js';
import { Engine } from '../../src/engine.js';
import { makeTar } from '../support/tar.js';
import { tempDir } from '../support/tmp.js';

afterEach(() => setDecompressionLimits(DEFAULT_DECOMPRESSION_LIMITS));

async function drain(s: Readable): Promise<number> {
  let n = 0;
  for await (const c of s) n += (c as Buffer).length;
  return n;
}

const zeros = (mib: number) => Buffer.alloc(mib * 1024 * 1024);

test('a stream past the size limit fails naming the limit (gzip in-process, xz through its tool)', async () => {
  setDecompressionLimits({ maxBytes: 1024 * 1024 });
  const gz = gzipSync(zeros(4));
  const err = await drain((await layerDecompress(Readable.from([gz]), 'layer sha256:x')).stream).catch((e: unknown) => e);
  expect(isTbuildError(err, 'TB_DECOMPRESSION_LIMIT')).toBe(true);
  expect((err as Error).message).toMatch(/layer sha256:x \(gzip\) expands past the 1 MiB limit/);
  const xz = execFileSync('xz', ['-c'], { input: zeros(4) });
  const err2 = await drain(archiveDecompress(Readable.from([xz]), 'xz', 'ADD archive')).catch((e: unknown) => e);
  expect(isTbuildError(err2, 'TB_DECOMPRESSION_LIMIT')).toBe(true);
  // the layer applier's reader (one reused buffer) checks the same limit
  const { chunks } = await decompressChunks(Readable.from([gz]), 'layer sha256:y');
  const err3 = await (async () => {
    for await (const _ of chunks) void _;
  })().catch((e: unknown) => e);
  expect(isTbuildError(err3, 'TB_DECOMPRESSION_LIMIT')).toBe(true);
  expect((err3 as Error).message).toMatch(/layer sha256:y \(gzip\) expands past the 1 MiB limit/);
  // inside the limit, the same stream decodes in full
  setDecompressionLimits({ maxBytes: 8 * 1024 * 1024 });
  expect(await drain((await layerDecompress(Readable.from([gz]))).stream)).toBe(4 * 1024 * 1024);
});

test('the ratio limit catches a bomb once its output is past the threshold', async () => {
  setDecompressionLimits({ maxRatio: 50, ratioAfter: 512 * 1024 });
  const bomb = gzipSync(zeros(8)); // about 1000:1
  const err = await drain(archiveDecompress(Readable.from([bomb]), 'gzip', 'build context')).catch((e: unknown) => e);
  expect(isTbuildError(err, 'TB_DECOMPRESSION_LIMIT')).toBe(true);
  expect((err as Error).message).toContain('expands more than 50:1');
});

test('a build context bomb fails the build with the limit error and leaves no temp state', async () => {
  const tmp = await tempDir('tb-bomb-');
  try {
    const engine = await Engine.open({ root: join(tmp.path, 'root'), decompression: { maxBytes: 2 * 1024 * 1024 } });
    try {
      const tar = await makeTar([
        { name: 'Dockerfile', content: 'FROM scratch\nCOPY big /\n' },
        { name: 'big', content: zeros(6).toString() },
      ]);
      const err = await engine.build({ context: { tar: Readable.from([gzipSync(tar)]) } }).catch((e: unknown) => e);
      expect(isTbuildError(err, 'TB_DECOMPRESSION_LIMIT')).toBe(true);
      expect((err as Error).message).toContain('build context (gzip)');
    } finally {
      await engine.close();
    }
    expect(await readdir(join(tmp.path, 'root', 'tmp')).catch(() => [])).toEqual([]);
  } finally {
    await tmp.cleanup();
  }
});
