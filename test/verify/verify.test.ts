import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { isRoot, mountsUnder, tempDir } from '../support/tmp.js';
import { BUSYBOX_TAR, runCli } from '../support/cli.js';
import { mountAll } from '../../src/util/mount.js';
import type { VerifyReport } from '../../src/verify/types.js';
import { Engine } from '../../src/engine.js';

/** `tbuild system verify [--repair]` on a real root, with damage made by hand. */
describe.runIf(isRoot)('tbuild system verify', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let root: string;
  const cli = (args: string[]) => runCli(args, { root });
  // An engine opened before the damage is made, as a daemon would be (a CLI opening the root
  // sweeps what dead processes left before it looks).
  let engine: Engine;

  beforeAll(async () => {
    tmp = await tempDir('tb-verify-');
    root = join(tmp.path, 'root');
    expect((await cli(['load', '-i', BUSYBOX_TAR])).code).toBe(0);
    const ctx = join(tmp.path, 'ctx');
    await mkdir(ctx);
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:local\nRUN echo one > /one\nRUN echo two > /two\n');
    expect((await cli(['build', '-q', '--network', 'none', '-t', 'two:x', ctx])).code).toBe(0);
    engine = await Engine.open({ root });
  }, 120_000);

  // released here too, should the test fail before its repair unmounts it
  let unmountScratch: (() => Promise<void>) | undefined;

  afterAll(async () => {
    await engine?.close();
    await unmountScratch?.().catch(() => {});
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  });

  test('a store in order verifies clean', async () => {
    const r = await cli(['system', 'verify']);
    expect(r.stdout).toMatch(/^Checked \d+ blobs \(.*\), \d+ snapshots, 2 images, \d+ cache records in [\d.]+s\nNo problems found\n$/);
    expect(r.code).toBe(0);
  }, 60_000);

  test('finds damage and orphans; --repair removes the orphans and leaves the rest listed', async () => {
    const dead = spawnSync('true').pid!;
    // a name whose image is gone
    const repos = JSON.parse(await readFile(join(root, 'images', 'repositories.json'), 'utf8')) as { tags: Record<string, string> };
    repos.tags['docker.io/library/ghost:latest'] = `sha256:${'e'.repeat(64)}`;
    await writeFile(join(root, 'images', 'repositories.json'), JSON.stringify(repos));
    // a layer directory without a record
    await mkdir(join(root, 'snapshots', '4242', 'fs'), { recursive: true });
    // a crashed build's scratch, with a mount still in it, and a blob write of a dead process
    const scratch = join(root, 'tmp', `b-${dead}.1-0123456789abcdef`);
    await mkdir(join(scratch, 's-x'), { recursive: true });
    unmountScratch = await mountAll([{ type: 'tmpfs', source: 'tmpfs', options: ['size=64k'] }], join(scratch, 's-x'));
    await writeFile(join(root, 'content', 'ingest', `${dead}-x-0123`), 'half');
    // a blob whose bytes changed (a layer or manifest: a damaged image config is the next test's)
    const blobs = join(root, 'content', 'blobs', 'sha256');
    const configs = new Set((await engine.images.list()).map((i) => i.id.slice('sha256:'.length)));
    const victim = (await readdir(blobs)).find((b) => !configs.has(b))!;
    const original = await readFile(join(blobs, victim));
    await writeFile(join(blobs, victim), Buffer.concat([original, Buffer.from('x')]));

    const kinds = (r: VerifyReport) => r.problems.map((p) => p.kind).sort();
    const before = await engine.verify();
    expect(kinds(before)).toEqual(['blob-digest', 'mount-orphan', 'name-dangling', 'snapshot-orphan', 'temp-orphan']);
    expect(before.problems.find((p) => p.kind === 'blob-digest')).toMatchObject({ subject: `sha256:${victim}`, repairable: false });
    expect(before.problems.find((p) => p.kind === 'mount-orphan')).toMatchObject({ subject: scratch, repairable: true });

    const repaired = await engine.verify({ repair: true });
    expect(repaired.problems.filter((p) => p.repaired).map((p) => p.kind).sort()).toEqual(['mount-orphan', 'name-dangling', 'snapshot-orphan', 'temp-orphan']);
    expect(await mountsUnder(join(root, 'tmp'))).toEqual([]);
    expect(await readdir(join(root, 'snapshots'))).not.toContain('4242');
    // the CLI says what is left, and exits 1 while anything is
    const r = await cli(['system', 'verify']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`blob-digest: sha256:${victim}: its content hashes to sha256:`);
    expect(r.stdout).toMatch(/\[needs attention\]\n1 problem\n$/);

    await writeFile(join(blobs, victim), original);
    const json = await cli(['system', 'verify', '--format', 'json', '--repair']);
    expect(json.code).toBe(0);
    expect((JSON.parse(json.stdout) as VerifyReport).problems).toEqual([]);
    expect((await cli(['images', '--format', '{{.Repository}}'])).stdout).not.toContain('ghost');
  }, 120_000);

  test('a damaged image config is reported, and commands that read it name the image', async () => {
    const img = (await engine.images.list()).find((i) => i.names.some((n) => n.includes('two:x')))!;
    const file = join(root, 'content', 'blobs', 'sha256', img.id.slice('sha256:'.length));
    const original = await readFile(file);
    await writeFile(file, Buffer.concat([original, Buffer.from('x')]));
    try {
      const r = await cli(['system', 'verify']);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain(`blob-digest: ${img.id}`);
      expect(r.stdout).toContain(`image-config-missing: ${img.id}`);
      const ls = await cli(['images']);
      expect(ls.code).not.toBe(0);
      expect(ls.stderr).toContain(`image ${img.id}: its config blob is damaged`);
    } finally {
      await writeFile(file, original);
    }
    expect((await cli(['system', 'verify'])).code).toBe(0);
  }, 60_000);
});
