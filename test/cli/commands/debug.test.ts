import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isRoot, mountsUnder, tempDir } from '../../support/tmp.js';
import { BUSYBOX_TAR, runCli } from '../../support/cli.js';

/** `tbuild debug`: a container in the state a failed RUN left. */
describe.runIf(isRoot)('tbuild debug', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let root: string;
  let ctx: string;
  const cli = (args: string[]) => runCli(args, { root });

  beforeAll(async () => {
    tmp = await tempDir('tb-debug-');
    root = join(tmp.path, 'root');
    ctx = join(tmp.path, 'ctx');
    await mkdir(ctx);
    expect((await cli(['load', '-i', BUSYBOX_TAR])).code).toBe(0);
  }, 60_000);

  afterAll(async () => {
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  });

  test('the files, env and workdir of a failed RUN, until the next build', async () => {
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:local\nWORKDIR /work\nENV STAGE=failing\nRUN echo partial > marker && exit 1\n');
    const failed = await cli(['build', '--network', 'none', ctx]);
    expect(failed.code).not.toBe(0);
    const id = JSON.parse((await cli(['builds', 'inspect', 'last', '--format', 'json'])).stdout).id as string;

    const r = await cli(['debug', '--network', 'none', 'last', 'sh', '-c', 'cat marker; echo $STAGE; pwd']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('partial\nfailing\n/work\n');
    expect(r.code).toBe(0);
    // the container's exit status is the command's; the temporary image is gone afterwards
    expect((await cli(['debug', '--network', 'none', id, 'sh', '-c', 'exit 3'])).code).toBe(3);
    expect((await cli(['images', '--format', '{{.Repository}}'])).stdout).not.toContain('tbuild-debug');

    const noState = await cli(['debug', '--step', '1', id]);
    expect(noState.code).not.toBe(0);
    expect(noState.stderr).toMatch(/step 1 \(.*\) kept no state: only RUN steps do/);

    // the next build of the root drops it
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:local\nRUN true\n');
    expect((await cli(['build', '--network', 'none', ctx])).code).toBe(0);
    const gone = await cli(['debug', '--network', 'none', id, 'true']);
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toMatch(/the state of step \d+ \(.*RUN echo partial.*\) is gone/);
    const none = await cli(['debug', 'last']);
    expect(none.stderr).toMatch(/has no failed RUN step to debug \(give --step N for one that ran\)/);
    // a RUN that succeeded: its result, its settings
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:local\nWORKDIR /ok\nENV PHASE=done\nRUN echo built > out\nRUN true\n');
    expect((await cli(['build', '--network', 'none', ctx])).code).toBe(0);
    const steps = JSON.parse((await cli(['builds', 'inspect', 'last', '--format', 'json'])).stdout).steps as Array<{ index: number; name: string }>;
    const echo = steps.find((s) => s.name.includes('RUN echo built'))!;
    const ok = await cli(['debug', '--network', 'none', '--step', String(echo.index), 'last', 'sh', '-c', 'cat out; echo $PHASE; pwd']);
    expect(ok.stdout).toBe('built\ndone\n/ok\n');
    const v = await cli(['system', 'verify']);
    expect(v.stdout).toContain('No problems found');
  }, 180_000);

  test('a RUN found in the cache, with its mounts: the cache, the stage and the context it binds, a new tmpfs; a secret is named, not mounted', async () => {
    const dir = join(tmp.path, 'mounts');
    await mkdir(dir);
    await writeFile(join(dir, 'ctxfile'), 'ctx\n');
    await writeFile(
      join(dir, 'Dockerfile'),
      'FROM busybox:local AS tools\nRUN mkdir -p /opt/t && echo tool > /opt/t/bin\nFROM busybox:local\nWORKDIR /w\n' +
        'RUN --mount=type=cache,target=/cache --mount=type=bind,from=tools,source=/opt/t,target=/t --mount=type=bind,source=.,target=/ctx,rw ' +
        "--mount=type=tmpfs,target=/scratch --mount=type=secret,id=tok,required=false sh -c 'echo seeded > /cache/c; cat /t/bin /ctx/ctxfile > made'\n",
    );
    expect((await cli(['build', '--network', 'none', dir])).code).toBe(0);
    const again = await cli(['build', '--progress', 'plain', '--network', 'none', dir]);
    expect(again.code, again.stderr).toBe(0);
    const steps = JSON.parse((await cli(['builds', 'inspect', 'last'])).stdout).steps as Array<{ index: number; name: string; cached: boolean }>;
    const run = steps.find((x) => x.name.includes('--mount=type=cache'))!;
    expect(run.cached).toBe(true);
    const r = await cli([
      'debug', '--network', 'none', '--step', String(run.index), 'last', 'sh', '-c',
      'cat made /cache/c /t/bin /ctx/ctxfile; grep -c " /scratch tmpfs" /proc/mounts; echo x > /ctx/new && echo wrote; (echo y > /t/new) 2>/dev/null || echo read-only; pwd',
    ]);
    expect(r.stdout).toBe('tool\nctx\nseeded\ntool\nctx\n1\nwrote\nread-only\n/w\n');
    expect(r.stderr).toContain('note: secret tok');
    expect(r.code).toBe(0);
    // a writable bind's writes were thrown away, as in the build: the context is untouched
    await expect(readdir(dir)).resolves.toEqual(['Dockerfile', 'ctxfile']);
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
  }, 180_000);

  test("removing a build's record drops its failed step's state with it", async () => {
    const dir = join(tmp.path, 'rm');
    await mkdir(dir);
    await writeFile(join(dir, 'Dockerfile'), 'FROM busybox:local\nRUN head -c 100000 /dev/zero > /big && exit 1\n');
    expect((await cli(['build', '--network', 'none', dir])).code).not.toBe(0);
    const debugLayers = async () => {
      const meta = join(root, 'snapshots', 'metadata');
      let n = 0;
      for (const f of (await readdir(meta)).filter((x) => x.endsWith('.json'))) if ((await readFile(join(meta, f), 'utf8')).includes('"tbuild.debug"')) n++;
      return n;
    };
    expect(await debugLayers()).toBe(1);
    expect((await cli(['builds', 'rm', 'last'])).code).toBe(0);
    expect(await debugLayers()).toBe(0);
  }, 120_000);
});
