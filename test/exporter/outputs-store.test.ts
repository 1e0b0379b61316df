import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { isRoot, mountsUnder, tempDir } from '../support/tmp.js';
import { BUSYBOX_TAR, runCli } from '../support/cli.js';

/** BuildKit's rule: only the image exporter puts the result in the store. */
describe.runIf(isRoot)('local, tar, docker and oci outputs leave the image store as it was', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let root: string;
  let ctx: string;

  beforeAll(async () => {
    tmp = await tempDir('tb-outs-');
    root = join(tmp.path, 'root');
    ctx = join(tmp.path, 'ctx');
    await mkdir(ctx);
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:local\nRUN echo built > /built\n');
    expect((await runCli(['load', '-i', BUSYBOX_TAR], { root })).code).toBe(0);
  }, 60_000);

  afterAll(async () => {
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  }, 60_000);

  const images = async () => (await runCli(['images', '-a', '--format', '{{.Repository}}:{{.Tag}}'], { root })).stdout;

  test('each output is written, and no <none> image or tag appears', async () => {
    const before = await images();
    expect(before).toBe('busybox:local\n');
    const outs = {
      local: `type=local,dest=${join(tmp.path, 'local')}`,
      tar: `type=tar,dest=${join(tmp.path, 'fs.tar')}`,
      docker: `type=docker,dest=${join(tmp.path, 'img.tar')}`,
      oci: `type=oci,dest=${join(tmp.path, 'oci.tar')}`,
    };
    for (const [kind, spec] of Object.entries(outs)) {
      const r = await runCli(['build', '-q', '-t', 'named:out', '-o', spec, ctx], { root });
      expect(r.code, `${kind}: ${r.stderr}`).toBe(0);
      expect(await images(), kind).toBe(before);
    }
    expect(await readFile(join(tmp.path, 'local', 'built'), 'utf8')).toBe('built\n');
    // What the outputs were made from stays as build cache, and `builder du` shows it.
    const du = await runCli(['builder', 'du'], { root });
    expect(du.stdout).toMatch(/^ID +RECLAIMABLE +SIZE +LAST ACCESSED\n\S+ +true +\S+/);
    expect(du.stdout).toMatch(/\nReclaimable:\t\S+\nTotal:\t\t\S+\n$/);
    expect(execFileSync('tar', ['tf', join(tmp.path, 'fs.tar')]).toString()).toMatch(/^(\.\/)?built$/m);
    const manifest = JSON.parse(execFileSync('tar', ['xOf', join(tmp.path, 'img.tar'), 'manifest.json']).toString()) as Array<{ RepoTags: string[] }>;
    expect(manifest[0]!.RepoTags).toEqual(['named:out']);
    const other = join(tmp.path, 'other');
    expect(await runCli(['load', '-i', join(tmp.path, 'img.tar')], { root: other })).toMatchObject({ code: 0, stdout: 'Loaded image: named:out\n' });
    // The image exporter (the default) still stores and names it.
    expect((await runCli(['build', '-q', '-t', 'named:out', ctx], { root })).code).toBe(0);
    expect(await images()).toBe('named:out\nbusybox:local\n');
  }, 240_000);
});
