import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { isRoot, mountsUnder, tempDir } from '../support/tmp.js';
import { BUSYBOX_TAR, runCli, PROJECT_ROOT } from '../support/cli.js';
import { ensureForeignBusyboxArchive } from '../support/busybox-image.js';
import { Engine } from '../../src/engine.js';
import { isTbuildError } from '../../src/errors.js';
import type { ProgressEvent } from '../../src/build/types.js';

/**
 * Builds for another CPU: arm64 on this amd64 machine, its RUN steps under Debian's
 * qemu-user-static through binfmt_misc (scripts/setup.sh registers it), the image saying arm64.
 */
describe.runIf(isRoot)('builds for another platform', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let engine: Engine;
  let n = 0;
  const ctx = async (dockerfile: string): Promise<string> => {
    const d = join(tmp.path, `ctx-${n++}`);
    await mkdir(d);
    await writeFile(join(d, 'Dockerfile'), dockerfile);
    return d;
  };

  beforeAll(async () => {
    tmp = await tempDir('tb-platform-');
    engine = await Engine.open({ root: join(tmp.path, 'root') });
    await engine.load(createReadStream(BUSYBOX_TAR));
    await engine.load(createReadStream(await ensureForeignBusyboxArchive()));
  }, 180_000);

  afterAll(async () => {
    await engine?.close();
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  });

  test('--platform linux/arm64: RUN executes arm64 binaries under emulation, the TARGET* args and the image say arm64', async () => {
    const dir = await ctx('FROM busybox:arm64\nARG TARGETPLATFORM TARGETARCH BUILDPLATFORM\nRUN uname -m > /m && echo "$TARGETPLATFORM $TARGETARCH $BUILDPLATFORM" > /args\n');
    const out = join(tmp.path, 'arm64-out');
    const res = await engine.build({ context: dir, platform: 'linux/arm64', network: 'none', tags: ['built:arm64'], outputs: [{ type: 'image' }, { type: 'local', dest: out }] });
    expect(await readFile(join(out, 'm'), 'utf8')).toBe('aarch64\n');
    expect(await readFile(join(out, 'args'), 'utf8')).toBe('linux/arm64 arm64 linux/amd64\n');
    expect(res.image?.config).toMatchObject({ os: 'linux', architecture: 'arm64' });
    const inspect = await runCli(['image', 'inspect', '--format', '{{.Os}}/{{.Architecture}}', 'built:arm64'], { root: join(tmp.path, 'root') });
    expect(inspect.stdout.trim()).toBe('linux/arm64');
  }, 180_000);

  test('FROM --platform=$BUILDPLATFORM cross-builds natively, and the arm64 stage takes its output', async () => {
    const dir = await ctx(
      'FROM --platform=$BUILDPLATFORM busybox:local AS build\nARG TARGETARCH\nRUN echo "built on $(uname -m) for $TARGETARCH" > /out\n' +
        'FROM busybox:arm64\nCOPY --from=build /out /out\nRUN uname -m >> /out\n',
    );
    const out = join(tmp.path, 'cross-out');
    await engine.build({ context: dir, platform: 'linux/arm64', network: 'none', outputs: [{ type: 'local', dest: out }] });
    expect(await readFile(join(out, 'out'), 'utf8')).toBe('built on x86_64 for arm64\naarch64\n');
  }, 180_000);

  test('a stored base of another platform than asked is refused at its FROM line; without --platform it is used with a warning', async () => {
    const refused = await engine.build({ context: await ctx('FROM busybox:local\nRUN true\n'), platform: 'linux/arm64', network: 'none' }).catch((e: unknown) => e);
    // (busybox:local is on no registry: docker.io is not reachable from the test machine, or has no such tag)
    expect(isTbuildError(refused, 'TB_PLATFORM_NOT_FOUND')).toBe(true);
    expect((refused as Error).message).toMatch(/^busybox:local: the stored image is linux\/amd64, not linux\/arm64, and looking that platform up on its registry failed: /);
    expect((refused as { range?: { startLine: number } }).range?.startLine).toBe(1);
    const events: ProgressEvent[] = [];
    const res = await engine.build({ context: await ctx('FROM busybox:arm64\nRUN uname -m > /m\n'), network: 'none', onProgress: (e) => events.push(e) });
    expect(events.flatMap((e) => (e.type === 'warning' ? [e.message] : []))).toContain(
      'InvalidBaseImagePlatform: Base image busybox:arm64 was pulled with platform "linux/arm64", expected "linux/amd64" for current build',
    );
    expect(res.image?.config.architecture).toBe('arm64');
  }, 180_000);

  test('a RUN for a CPU nothing here can run fails at its line with TB_PLATFORM_EMULATION, saying how to get an emulator', async () => {
    // a platform no binfmt_misc handler can serve: its image made here with `tbuild import --platform`
    const rootfs = join(tmp.path, 'rootfs.tar');
    execFileSync('bash', [join(PROJECT_ROOT, 'scripts', 'make-busybox-rootfs.sh'), rootfs]);
    await engine.importImage(createReadStream(rootfs), { name: 'odd:wasm', platform: 'linux/wasm' });
    const err = await engine.build({ context: await ctx('FROM --platform=linux/wasm odd:wasm\nRUN true\n'), network: 'none' }).catch((e: unknown) => e);
    expect(isTbuildError(err, 'TB_PLATFORM_EMULATION')).toBe(true);
    expect((err as Error).message).toMatch(/cannot run linux\/wasm binaries .* install an emulator \(Debian: apt-get install qemu-user-static/);
    expect((err as { range?: { startLine: number } }).range?.startLine).toBe(2);
    // a stage with no RUN needs no emulator
    const ok = await engine.build({ context: await ctx('FROM --platform=linux/wasm odd:wasm\nENV A=1\n'), network: 'none' });
    expect(ok.image?.config.architecture).toBe('wasm');
    // nor can a container of it run: said at create, not as runc's "exec format error"
    const run = await runCli(['run', '--rm', '--network', 'none', 'odd:wasm', 'true'], { root: join(tmp.path, 'root') });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/cannot run linux\/wasm binaries/);
  }, 180_000);

  test('a container of an arm64 image runs under the emulator; --platform picks the image, without it Docker\'s warning', async () => {
    const root = join(tmp.path, 'root');
    const plain = await runCli(['run', '--rm', '--network', 'none', 'busybox:arm64', 'uname', '-m'], { root });
    expect(plain.stderr).toBe("WARNING: The requested image's platform (linux/arm64) does not match the detected host platform (linux/amd64) and no specific platform was requested\n");
    expect(plain.stdout).toBe('aarch64\n');
    const asked = await runCli(['run', '--rm', '--network', 'none', '--platform', 'linux/arm64', 'busybox:arm64', 'uname', '-m'], { root });
    expect(asked.stderr).toBe('');
    expect(asked.stdout).toBe('aarch64\n');
    const other = await runCli(['run', '--rm', '--network', 'none', '--pull', 'never', '--platform', 'linux/amd64', 'busybox:arm64', 'true'], { root });
    expect(other.code).not.toBe(0);
    expect(other.stderr).toContain('image with reference busybox:arm64 was found but does not match the specified platform: wanted linux/amd64, actual: linux/arm64');
  }, 60_000);
});
