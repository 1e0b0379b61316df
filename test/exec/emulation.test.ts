import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../support/tmp.js';
import { emulationGap, handlersFor, parseHandler, requireEmulation, runnablePlatforms } from '../../src/exec/emulation.js';
import { ia32Runs, probeIa32 } from '../../src/util/ia32.js';
import { isTbuildError } from '../../src/errors.js';

/** Handlers as Debian's qemu-user-static registers them (read back from /proc/sys/fs/binfmt_misc). */
const AARCH64 = [
  'enabled',
  'interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P',
  'flags: PF',
  'offset 0',
  'magic 7f454c460201010000000000000000000200b700',
  'mask ffffffffffffff00fffffffffffffffffeffffff',
  '',
].join('\n');
const S390X = [
  'enabled',
  'interpreter /usr/libexec/qemu-binfmt/s390x-binfmt-P',
  'flags: P',
  'offset 0',
  'magic 7f454c4602020100000000000000000000020016',
  'mask ffffffffffffff00fffffffffffffffffffeffff',
  '',
].join('\n');
const RISCV64 = AARCH64.replace('enabled', 'disabled').replace('aarch64', 'riscv64').replace('0200b700', '0200f300');
const JAR = ['enabled', 'interpreter /usr/bin/jexec', 'flags: ', 'extension .jar', ''].join('\n');

describe('emulation through binfmt_misc', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let root: string;

  beforeAll(async () => {
    tmp = await tempDir('tb-binfmt-');
    root = join(tmp.path, 'binfmt_misc');
    await mkdir(root);
    await writeFile(join(root, 'status'), 'enabled\n');
    await writeFile(join(root, 'register'), '');
    await writeFile(join(root, 'qemu-aarch64'), AARCH64);
    await writeFile(join(root, 'qemu-s390x'), S390X);
    await writeFile(join(root, 'qemu-riscv64'), RISCV64);
    await writeFile(join(root, 'jar'), JAR);
  });
  afterAll(async () => tmp?.cleanup());

  test('a handler is found by matching its magic against the architecture\'s ELF header, whatever its name', () => {
    expect(parseHandler('jar', JAR)).toBeUndefined();
    expect(handlersFor({ os: 'linux', architecture: 'arm64' }, root).map((h) => h.name)).toEqual(['qemu-aarch64']);
    expect(handlersFor({ os: 'linux', architecture: 's390x' }, root).map((h) => h.name)).toEqual(['qemu-s390x']);
    expect(handlersFor({ os: 'linux', architecture: 'ppc64le' }, root)).toEqual([]);
  });

  test('usable only when enabled and registered with F (the interpreter is opened outside the container)', () => {
    expect(emulationGap({ os: 'linux', architecture: 'arm64' }, root)).toBeUndefined();
    expect(emulationGap({ os: 'linux', architecture: 's390x' }, root)).toMatch(/qemu-s390x\) lacks the F flag/);
    expect(emulationGap({ os: 'linux', architecture: 'riscv64' }, root)).toMatch(/qemu-riscv64\) is disabled/);
    expect(emulationGap({ os: 'linux', architecture: 'ppc64le' }, root)).toBe('no binfmt_misc handler is registered for it');
    expect(emulationGap({ os: 'linux', architecture: 'wasm' }, root)).toBe('no known executable format for wasm');
    expect(emulationGap({ os: 'linux', architecture: 'arm64' }, join(tmp.path, 'nowhere'))).toMatch(/binfmt_misc is not mounted/);
    expect(emulationGap({ os: 'linux', architecture: 'amd64' }, join(tmp.path, 'nowhere'))).toBeUndefined();
  });

  test('the platforms this machine runs: its own (386 too on amd64) and the emulated ones', () => {
    expect(runnablePlatforms(root).map((p) => `${p.os}/${p.architecture}`)).toEqual(['linux/amd64', ...(ia32Runs() !== false ? ['linux/386'] : []), 'linux/arm64']);
  });

  test('a platform without an emulator is TB_PLATFORM_EMULATION, naming it and how to get one', async () => {
    let err: unknown;
    await requireEmulation({ os: 'linux', architecture: 'ppc64le' }, root).catch((e: unknown) => (err = e));
    expect(isTbuildError(err, 'TB_PLATFORM_EMULATION')).toBe(true);
    expect((err as Error).message).toMatch(/cannot run linux\/ppc64le binaries .*: no binfmt_misc handler is registered for it; install an emulator \(Debian: apt-get install qemu-user-static/);
    await expect(requireEmulation({ os: 'linux', architecture: 'arm64' }, root)).resolves.toBeUndefined();
  });

  test.runIf(process.arch === 'x64')('386 runs natively where this kernel runs 32-bit code; elsewhere it needs an emulator and the error says why', async () => {
    const runs = await probeIa32();
    const err = await requireEmulation({ os: 'linux', architecture: '386' }, root).then(() => undefined, (e: unknown) => e);
    if (runs === false) {
      expect(isTbuildError(err, 'TB_PLATFORM_EMULATION')).toBe(true);
      expect((err as Error).message).toMatch(/cannot run linux\/386 binaries on this linux\/amd64 machine: this kernel does not run 32-bit x86 code itself, and no binfmt_misc handler is registered for it/);
      expect(runnablePlatforms(root).map((p) => p.architecture)).not.toContain('386');
    } else {
      expect(err).toBeUndefined();
    }
  });
});
