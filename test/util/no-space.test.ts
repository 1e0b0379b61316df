import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { isRoot, mountsUnder, tempDir } from '../support/tmp.js';
import { BUSYBOX_TAR, runCli } from '../support/cli.js';
import { mountAll } from '../../src/util/mount.js';

/** A full disk is named with what was being written, and nothing half-written stays. */
describe.runIf(isRoot)('no space left on device', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let small: string;
  let release: () => Promise<void>;
  let root: string;

  beforeAll(async () => {
    tmp = await tempDir('tb-nospace-');
    small = join(tmp.path, 'small');
    await mkdir(small);
    // 3 MB: room for a state root's bookkeeping, not for busybox's layer twice over
    release = await mountAll([{ type: 'tmpfs', source: 'tmpfs', options: ['size=3m'] }], small);
    root = join(tmp.path, 'root');
    expect((await runCli(['load', '-i', BUSYBOX_TAR], { root })).code).toBe(0);
  }, 60_000);

  afterAll(async () => {
    await release?.();
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  });

  test('load into a full root', async () => {
    const full = join(small, 'root');
    const r = await runCli(['load', '-i', BUSYBOX_TAR], { root: full });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^ERROR: no space left on device while writing (a blob into the content store \(.*\)|a layer into .*)$/m);
    expect(await readdir(join(full, 'content', 'ingest'))).toEqual([]);
    expect((await runCli(['images', '-q'], { root: full })).stdout).toBe('');
    const v = await runCli(['system', 'verify'], { root: full });
    expect(v.stdout).toContain('No problems found');
  }, 60_000);

  test('save to a full filesystem', async () => {
    const out = join(small, 'out.tar');
    await writeFile(join(small, 'filler'), randomBytes(1 << 20));
    const r = await runCli(['save', '-o', out, 'busybox:local'], { root });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`ERROR: no space left on device while writing ${out}`);
    expect((await readdir(small)).filter((n) => n.includes('out.tar'))).toEqual([]);
  }, 60_000);

  test('a COPY into a root whose disk is full', async () => {
    const full = join(small, 'root2');
    const ctx = join(tmp.path, 'ctx');
    await mkdir(ctx, { recursive: true });
    await writeFile(join(ctx, 'big.bin'), randomBytes(4 << 20));
    await writeFile(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY big.bin /big.bin\n');
    const r = await runCli(['build', '--network', 'none', ctx], { root: full });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no space left on device while writing the step's new layer/);
    const v = await runCli(['system', 'verify'], { root: full });
    expect(v.stdout).toContain('No problems found');
  }, 60_000);
});
