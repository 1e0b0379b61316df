import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, isRoot, mountsUnder } from '../../support/tmp.js';
import { runCli, BUSYBOX_TAR } from '../../support/cli.js';

/** `tbuild build --cache-to/--cache-from` as a user types them: repeatable, relative paths, refusals. */
describe.runIf(isRoot)('tbuild build --cache-to / --cache-from', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };

  beforeAll(async () => {
    tmp = await tempDir('tbcache-cli-');
    await mkdir(join(tmp.path, 'ctx'));
    await writeFile(join(tmp.path, 'ctx', 'Dockerfile'), 'FROM busybox:local\nRUN od -An -N8 -tx1 /dev/urandom > /at\n');
    for (const r of ['a', 'b']) expect((await runCli(['load', '-i', BUSYBOX_TAR], { root: join(tmp.path, r) })).code).toBe(0);
  });

  afterAll(async () => {
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  });

  test('two exports at once, relative to the working directory; a fresh root imports one', async () => {
    const a = await runCli(['build', '--progress', 'plain', '--cache-to', 'type=local,dest=cache-max,mode=max', '--cache-to', 'type=local,dest=cache-min', '-t', 'x', 'ctx'], { root: join(tmp.path, 'a'), cwd: tmp.path });
    expect(a.code, a.stderr).toBe(0);
    expect(a.stderr.match(/exporting cache to client directory/g)).toHaveLength(2);
    expect((await readdir(join(tmp.path, 'cache-max'))).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
    expect((await readdir(join(tmp.path, 'cache-min'))).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
    const b = await runCli(['build', '--progress', 'plain', '--cache-from', 'type=local,src=cache-min', '-t', 'x', 'ctx'], { root: join(tmp.path, 'b'), cwd: tmp.path });
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).toMatch(/importing cache manifest from .*cache-min/);
    expect(b.stderr).toMatch(/\[2\/2\] RUN od[^\n]*\n#\d+ CACHED/);
    const at = async (root: string) => (await runCli(['run', '--rm', 'x', 'cat', '/at'], { root: join(tmp.path, root) })).stdout;
    expect(await at('b')).toBe(await at('a'));
  }, 120_000);

  test('bad specs are refused before anything runs, naming what is wrong', async () => {
    for (const [spec, message] of [
      ['--cache-to=type=gha', /cache type "gha" is not supported/],
      ['--cache-to=type=registry,ref=r/x,compression=zstd', /compression=zstd is not supported/],
      ['--cache-from=type=local', /needs src=/],
    ] as const) {
      const r = await runCli(['build', spec, 'ctx'], { root: join(tmp.path, 'a'), cwd: tmp.path });
      expect(r.code, spec).not.toBe(0);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/#\d+ \[1\/2\]/);
    }
  }, 60_000);
});
