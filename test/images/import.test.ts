import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { readFile, readlink } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { tempDir, mountsUnder } from '../support/tmp.js';
import { inventory, makeTar, openStore } from './helpers.js';
import { importRootfs } from '../../src/images/import.js';
import { applyChange, shellWords } from '../../src/images/changes.js';
import type { ContainerConfig } from '../../src/images/types.js';
import { isTbuildError } from '../../src/errors.js';
import { sha256 } from '../../src/util/digest.js';

let dir: { path: string; cleanup: () => Promise<void> };

beforeEach(async () => {
  dir = await tempDir('tb-imp-');
});
afterEach(async () => {
  expect(await mountsUnder(dir.path)).toEqual([]);
  await dir.cleanup();
});

async function collect(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

describe('import', () => {
  test('a rootfs tar becomes a one-layer image with the changes applied', async () => {
    const ctx = await openStore(dir.path);
    const rootfs = await makeTar([
      { name: 'bin/', type: 'directory' },
      { name: 'bin/hello', content: '#!/bin/sh\necho hi\n', mode: 0o755 },
      { name: 'etc/', type: 'directory' },
      { name: 'etc/motd', content: 'welcome\n' },
      { name: 'etc/link', type: 'symlink', linkname: 'motd' },
    ]);
    const gz = execFileSync('gzip', ['-c'], { input: rootfs });
    const img = await importRootfs(ctx, Readable.from([gz]), {
      name: 'imported:v1',
      changes: ['CMD ["/bin/hello"]', 'ENV A=1 B="two words"', 'EXPOSE 80 53/udp', 'LABEL x=y', 'USER nobody', 'VOLUME /data', 'WORKDIR /srv', 'STOPSIGNAL SIGTERM', 'ENTRYPOINT /bin/sh'],
      message: 'from a tar',
      created: new Date('2024-05-06T07:08:09Z'),
    });
    expect(img.names).toEqual(['docker.io/library/imported:v1']);
    expect(img.layers).toHaveLength(1);
    expect(img.config).toMatchObject({
      architecture: 'amd64',
      os: 'linux',
      created: '2024-05-06T07:08:09Z',
      history: [{ created: '2024-05-06T07:08:09Z', created_by: 'Imported from -', comment: 'from a tar' }],
    });
    expect(img.config.config).toEqual({
      Cmd: ['/bin/hello'],
      Env: ['A=1', 'B=two words'],
      ExposedPorts: { '80/tcp': {}, '53/udp': {} },
      Labels: { x: 'y' },
      User: 'nobody',
      Volumes: { '/data': {} },
      WorkingDir: '/srv',
      StopSignal: 'SIGTERM',
      Entrypoint: ['/bin/sh', '-c', '/bin/sh'],
    });
    // the layer's diffID is the sha256 of the tar regenerated from the snapshot
    const layerDir = await ctx.snapshots.layerDir(img.layers[0]!.snapshot);
    const regenerated = await collect(ctx.layers.tarFromDir(layerDir));
    expect(sha256(regenerated)).toBe(img.layers[0]!.diffId);
    expect(img.config.rootfs.diff_ids).toEqual([img.layers[0]!.diffId]);
    expect(regenerated.length).toBe(img.layers[0]!.size);
    expect(await readFile(join(layerDir, 'etc/motd'), 'utf8')).toBe('welcome\n');
    expect(await readlink(join(layerDir, 'etc/link'))).toBe('motd');
    // same rootfs again: same layer, shared snapshot
    const again = await importRootfs(ctx, Readable.from([rootfs]), { created: new Date('2024-05-06T07:08:09Z') });
    expect(again.layers).toEqual(img.layers);
  });

  test('bad input refuses before storing anything', async () => {
    const ctx = await openStore(dir.path);
    const before = await inventory(ctx);
    const tar = await makeTar([{ name: 'f', content: 'x' }]);
    for (const opts of [{ name: 'Bad Name' }, { changes: ['FROM x'] }, { changes: ['EXPOSE abc'] }, { platform: 'linux/' }, { platform: 'linux/toaster' }]) {
      const err = await importRootfs(ctx, Readable.from([tar]), opts).catch((e: unknown) => e);
      expect(isTbuildError(err), JSON.stringify(opts)).toBe(true);
    }
    const err = await importRootfs(ctx, Readable.from([Buffer.from('not a tar'.repeat(100))])).catch((e: unknown) => e);
    expect(isTbuildError(err)).toBe(true);
    expect(await inventory(ctx)).toEqual(before);
    expect(await ctx.images.list()).toEqual([]);
  });
});

describe('--change lines', () => {
  test.each<[string, ContainerConfig]>([
    ['CMD echo hi', { Cmd: ['/bin/sh', '-c', 'echo hi'] }],
    ['cmd ["a","b"]', { Cmd: ['a', 'b'] }],
    ['ENTRYPOINT ["/x"]', { Entrypoint: ['/x'] }],
    ['ENV PATH /usr/bin:/bin', { Env: ['PATH=/usr/bin:/bin'] }],
    ["ENV a='x y' b=z", { Env: ['a=x y', 'b=z'] }],
    ['EXPOSE 8000-8002/tcp', { ExposedPorts: { '8000/tcp': {}, '8001/tcp': {}, '8002/tcp': {} } }],
    ['LABEL "com.example.k"="v v"', { Labels: { 'com.example.k': 'v v' } }],
    ['VOLUME ["/a", "/b"]', { Volumes: { '/a': {}, '/b': {} } }],
    ['WORKDIR rel', { WorkingDir: '/rel' }],
    ['STOPSIGNAL 9', { StopSignal: '9' }],
    ['ONBUILD RUN make', { OnBuild: ['RUN make'] }],
  ])('%s', (line, want) => {
    expect(applyChange({}, line)).toEqual(want);
  });

  test('errors', () => {
    expect(() => applyChange({}, 'RUN x')).toThrow('RUN is not a valid change command');
    expect(() => applyChange({}, 'ENV =x')).toThrow(/blank/);
    expect(() => shellWords('"open')).toThrow(/unterminated/);
    expect(shellWords(`a "b c" 'd e' f\\ g`)).toEqual(['a', 'b c', 'd e', 'f g']);
  });
});
