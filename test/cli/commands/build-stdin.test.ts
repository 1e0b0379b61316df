import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isRoot, mountsUnder, tempDir } from '../../support/tmp.js';
import { BUSYBOX_TAR, runCli } from '../../support/cli.js';

describe.runIf(isRoot)('build inputs on stdin: -f - and a (compressed) tar context', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let root: string;
  let ctx: string;

  beforeAll(async () => {
    tmp = await tempDir('tb-stdin-');
    root = join(tmp.path, 'root');
    ctx = join(tmp.path, 'ctx');
    await mkdir(join(ctx, 'sub'), { recursive: true });
    await writeFile(join(ctx, 'f.txt'), 'from the context\n');
    await writeFile(join(ctx, 'sub', 'Other.Dockerfile'), 'FROM busybox:local\nCOPY f.txt /in-tar\n');
    expect((await runCli(['load', '-i', BUSYBOX_TAR], { root })).code).toBe(0);
  }, 60_000);

  afterAll(async () => {
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  }, 60_000);

  test('-f - reads the Dockerfile from stdin, the context from the directory', async () => {
    const out = join(tmp.path, 'out1');
    const r = await runCli(['build', '-f', '-', '-o', `type=local,dest=${out}`, ctx], { root, input: 'FROM busybox:local\nCOPY f.txt /copied\n' });
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(join(out, 'copied'), 'utf8')).toBe('from the context\n');
  }, 120_000);

  test('- takes a gzip tar context on stdin, with -f naming a Dockerfile inside it', async () => {
    const tgz = execFileSync('tar', ['-C', ctx, '-cz', '.']);
    const r = await runCli(['build', '-q', '-f', 'sub/Other.Dockerfile', '-t', 'from-tar:1', '-'], { root, input: tgz });
    expect(r.code, r.stderr).toBe(0);
    const run = await runCli(['run', '--rm', '--network', 'none', 'from-tar:1', 'cat', '/in-tar'], { root });
    expect(run.stdout).toBe('from the context\n');
  }, 120_000);

  test('stdin cannot be both', async () => {
    const r = await runCli(['build', '-f', '-', '-'], { root, input: 'FROM busybox:local\n' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("can't use stdin for both the build context and the Dockerfile");
  });
});
