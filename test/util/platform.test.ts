import { describe, expect, test } from 'vitest';
import { formatPlatform, hostPlatform, parsePlatform, parsePlatformSpec, platformOfConfig, runsNatively, samePlatform, targetPlatform, targetPlatforms } from '../../src/util/platform.js';
import { isTbuildError } from '../../src/errors.js';

describe('platforms', () => {
  test.each([
    ['linux/arm64', 'linux/arm64'],
    ['linux/arm64/v8', 'linux/arm64'],
    ['linux/aarch64', 'linux/arm64'],
    ['LINUX/X86_64', 'linux/amd64'],
    ['linux/arm', 'linux/arm/v7'],
    ['linux/armhf', 'linux/arm/v7'],
    ['linux/arm/6', 'linux/arm/v6'],
    ['linux/i386', 'linux/386'],
    ['arm64', 'linux/arm64'],
    ['s390x', 'linux/s390x'],
    [' linux/riscv64 ', 'linux/riscv64'],
  ])('%s is %s, as containerd normalises it', (spec, want) => {
    expect(formatPlatform(parsePlatform(spec))).toBe(want);
  });

  test.each(['', 'linux/', 'linux/arm64/v8/x', 'linux/not-a-cpu', 'linux/$ARCH'])('%j is refused with the value named', (spec) => {
    let err: unknown;
    try {
      parsePlatform(spec);
    } catch (e) {
      err = e;
    }
    expect(isTbuildError(err, 'TB_INVALID_ARGUMENT')).toBe(true);
    expect((err as Error).message).toContain(JSON.stringify(spec));
  });

  test('a lone OS word takes the host architecture; unknown words are not platforms', () => {
    expect(parsePlatformSpec('linux', { os: 'linux', architecture: 'arm64' })).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(parsePlatformSpec('banana')).toBeUndefined();
  });

  test('the same platform however it is written; runs natively only on its own CPU (and 386 on amd64)', () => {
    expect(samePlatform({ os: 'linux', architecture: 'arm64', variant: 'v8' }, { os: 'linux', architecture: 'arm64' })).toBe(true);
    expect(samePlatform({ os: 'linux', architecture: 'arm' }, { os: 'linux', architecture: 'arm', variant: 'v7' })).toBe(true);
    expect(samePlatform({ os: 'linux', architecture: 'arm', variant: 'v6' }, { os: 'linux', architecture: 'arm', variant: 'v7' })).toBe(false);
    expect(samePlatform({ os: 'linux', architecture: 'amd64' }, { os: 'windows', architecture: 'amd64' })).toBe(false);
    const amd64 = { os: 'linux', architecture: 'amd64' };
    expect(runsNatively({ os: 'linux', architecture: 'amd64' }, amd64)).toBe(true);
    expect(runsNatively({ os: 'linux', architecture: '386' }, amd64)).toBe(true);
    expect(runsNatively({ os: 'linux', architecture: 'arm64' }, amd64)).toBe(false);
    expect(runsNatively({ os: 'windows', architecture: 'amd64' }, amd64)).toBe(false);
  });

  test("a build's --platform: one linux platform, else this machine's; a list and other OSes are refused by name", () => {
    expect(targetPlatform(undefined)).toEqual(hostPlatform());
    expect(targetPlatform(' ')).toEqual(hostPlatform());
    expect(targetPlatform('linux/arm64/v8')).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(() => targetPlatform('linux/amd64,linux/arm64')).toThrow(/--platform linux\/amd64,linux\/arm64: several platforms here are not supported/);
    // a multi-platform build's list: each checked, repeats dropped, one alone is no list
    expect(targetPlatforms('linux/amd64, linux/arm64,linux/amd64')).toEqual([{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64' }]);
    expect(targetPlatforms('linux/arm64')).toBeUndefined();
    expect(targetPlatforms('linux/arm64,linux/arm64')).toEqual([{ os: 'linux', architecture: 'arm64' }]);
    expect(() => targetPlatforms('linux/amd64,windows/amd64')).toThrow(/--platform windows\/amd64: tbuild builds linux images only/);
    expect(() => targetPlatform('windows/amd64')).toThrow(/--platform windows\/amd64: tbuild builds linux images only/);
  });

  test('an image config names its platform, or none without an architecture', () => {
    expect(platformOfConfig({ os: 'linux', architecture: 'arm', variant: 'v7' })).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
    expect(platformOfConfig({ architecture: 'arm64' })).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(platformOfConfig({ os: 'linux' })).toBeUndefined();
  });
});
