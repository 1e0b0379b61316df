import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { join } from 'node:path';
import { BUSYBOX_TAR, runCli } from '../../support/cli.js';
import { isRoot, tempDir } from '../../support/tmp.js';

/** A `docker` command line works with `tbuild` in front: `create`, and Docker's second names of the verbs. */
describe.runIf(isRoot)("Docker's command names", () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let root: string;
  const cli = (...args: string[]) => runCli(args, { root, env: { TBUILD_HOST: '' } });

  beforeAll(async () => {
    tmp = await tempDir('tb-names-');
    root = join(tmp.path, 'root');
    expect((await runCli(['load', '-i', BUSYBOX_TAR], { root })).code).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await cli('rm', '-f', 'made');
    await tmp?.cleanup();
  });

  test('create (and container create) make a container that is not started; start runs it', async () => {
    const made = await cli('container', 'create', '--name', 'made', '-e', 'X=1', '--network', 'none', 'busybox:local', 'sh', '-c', 'echo $X');
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toMatch(/^[0-9a-f]{64}\n$/);
    expect((await cli('inspect', '--format', '{{.State.Status}}', 'made')).stdout).toBe('created\n');
    expect((await cli('start', '-a', 'made')).stdout).toBe('1\n');
    const missing = await cli('create', '--pull', 'never', 'no/such:image');
    expect(missing.code).toBe(125);
    expect((await cli('create', '--pull', 'sometimes', 'busybox:local')).stderr).toContain("invalid pull option: 'sometimes'");
  });

  test('list, ps and remove under the groups, build under image and builder', async () => {
    expect((await cli('container', 'list', '-a', '--format', '{{.Names}}')).stdout).toBe('made\n');
    expect((await cli('container', 'ps', '-aq')).stdout).toMatch(/^[0-9a-f]{12}\n$/);
    expect((await cli('image', 'list', '--format', '{{.Repository}}')).stdout).toBe('busybox\n');
    expect((await cli('volume', 'create', 'v1')).code).toBe(0);
    expect((await cli('volume', 'list', '-q')).stdout).toBe('v1\n');
    expect((await cli('volume', 'remove', 'v1')).code).toBe(0);
    expect((await cli('container', 'remove', 'made')).code).toBe(0);
    expect((await cli('container', 'list', '-aq')).stdout).toBe('');
    for (const group of ['image', 'builder']) expect((await cli(group, 'build', '--help')).stdout).toContain(`Usage: tbuild ${group} build [options] <context>`);
    // top level, Docker has no `remove` or `list`
    expect((await cli('remove', 'x')).code).not.toBe(0);
  });
});
