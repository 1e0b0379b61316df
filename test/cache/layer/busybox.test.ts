import { test, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { lstat, readlink, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { tempDir } from '../../support/tmp.js';
import { BUSYBOX_TAR } from '../../support/cli.js';
import { layerConverter } from '../../../src/cache/layer/index.js';

test('the shared busybox image layer applies, reports its diffID, and re-archives deterministically', async () => {
  const t = await tempDir('tbb-');
  try {
    const manifest = JSON.parse(execFileSync('tar', ['-xOf', BUSYBOX_TAR, 'manifest.json']).toString()) as { Config: string; Layers: string[] }[];
    const config = JSON.parse(execFileSync('tar', ['-xOf', BUSYBOX_TAR, manifest[0]!.Config]).toString()) as {
      rootfs: { diff_ids: string[] };
    };
    const layer = execFileSync('tar', ['-xOf', BUSYBOX_TAR, '--dereference', manifest[0]!.Layers[0]!], { maxBuffer: 64 << 20 });
    const dir = join(t.path, 'layer');
    const d = await layerConverter.applyTar(Readable.from([layer]), dir);
    expect(d.diffId).toBe(config.rootfs.diff_ids[0]);
    expect(d.size).toBe(layer.length);
    expect((await lstat(join(dir, 'bin/busybox'))).mode & 0o111).not.toBe(0);
    const sh = await lstat(join(dir, 'bin/sh'));
    expect(sh.isSymbolicLink() || sh.nlink > 1).toBe(true);
    expect(await readFile(join(dir, 'etc/passwd'), 'utf8')).toContain('root');
    if (sh.isSymbolicLink()) expect(await readlink(join(dir, 'bin/sh'))).toBeTruthy();
    const a = await layerConverter.describeDir(dir);
    const again = join(t.path, 'again');
    const b = await layerConverter.applyTar(layerConverter.tarFromDir(dir), again);
    expect(b).toEqual(a);
    expect(await layerConverter.describeDir(again)).toEqual(a);
  } finally {
    await t.cleanup();
  }
});
