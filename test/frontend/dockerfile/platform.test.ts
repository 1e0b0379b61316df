import { describe, expect, test } from 'vitest';
import { fakeImages } from '../../support/fake-images.js';
import { parseDockerfile } from '../../../src/parser/parse.js';
import { resolveDockerfile } from '../../../src/parser/resolve.js';
import { convert } from '../../../src/frontend/dockerfile/index.js';
import { isTbuildError } from '../../../src/errors.js';
import type { ImageLookup } from '../../../src/frontend/dockerfile/context.js';
import type { ExecOp } from '../../../src/solver/graph/types.js';
import type { Platform } from '../../../src/util/platform.js';
import { sha256 } from '../../../src/util/digest.js';

/** busybox:local (amd64) and busybox:arm64; `asked` records the platform each lookup asked for. */
function images(asked: Array<string | undefined>): ImageLookup {
  const local = fakeImages();
  return {
    async get(ref: string, platform?: Platform) {
      asked.push(platform ? `${platform.os}/${platform.architecture}` : undefined);
      if (ref !== 'busybox:arm64') return local.get(ref);
      const amd = (await local.get('busybox:local'))!;
      return { ...amd, id: sha256('arm64'), config: { ...amd.config, architecture: 'arm64', variant: 'v8' } };
    },
  };
}

async function conv(text: string, opts: { platform?: Platform; explicit?: boolean; asked?: Array<string | undefined> } = {}) {
  const df = parseDockerfile(text, { file: 'Dockerfile' });
  const platform = opts.platform ?? { os: 'linux', architecture: 'amd64' };
  const resolved = resolveDockerfile(df, { buildArgs: {}, buildPlatform: 'linux/amd64', targetPlatform: `${platform.os}/${platform.architecture}` });
  const warnings: string[] = [];
  const c = await convert(resolved, images(opts.asked ?? []), {
    buildArgs: {},
    network: 'none',
    file: 'Dockerfile',
    platform,
    platformExplicit: opts.explicit ?? false,
    onWarning: (w) => warnings.push(`${w.rule}@${w.range?.startLine}: ${w.message}`),
  });
  const runs = [...c.definition.vertices.values()].flatMap((v) => (v.op.type === 'exec' ? [v.op as ExecOp] : []));
  return { c, warnings, runs };
}

const ARM64 = { os: 'linux', architecture: 'arm64' };

describe('platforms in conversion', () => {
  test('FROM --platform looks the image up for that platform; its RUN steps are marked as needing emulation', async () => {
    const asked: Array<string | undefined> = [];
    const { c, runs, warnings } = await conv('FROM --platform=linux/arm64 busybox:arm64\nARG TARGETARCH\nRUN echo $TARGETARCH\n', { asked });
    expect(asked).toEqual(['linux/arm64']);
    expect(c.target.image.architecture).toBe('arm64');
    expect(runs.map((r) => r.platform)).toEqual(['linux/arm64/v8']);
    // TARGETARCH is the build's target (amd64 here): FROM --platform does not change it
    expect(runs[0]!.env).toContain('TARGETARCH=amd64');
    expect(warnings).toEqual([]);
  });

  test('--platform is every stage\'s platform and the TARGET* args; a stage FROM --platform=$BUILDPLATFORM runs natively', async () => {
    const asked: Array<string | undefined> = [];
    const { runs } = await conv(
      'FROM --platform=$BUILDPLATFORM busybox:local AS build\nARG TARGETPLATFORM\nRUN echo $TARGETPLATFORM\nFROM busybox:arm64\nCOPY --from=build /etc/passwd /p\nRUN true\n',
      { platform: ARM64, explicit: true, asked },
    );
    expect(asked).toEqual(['linux/amd64', 'linux/arm64']);
    expect(runs.map((r) => r.platform)).toEqual([undefined, 'linux/arm64/v8']);
    expect(runs[0]!.env).toContain('TARGETPLATFORM=linux/arm64');
  });

  test('an asked-for platform the image found is not is TB_PLATFORM_NOT_FOUND at the FROM line', async () => {
    let err: unknown;
    await conv('FROM busybox:local\nRUN true\n', { platform: ARM64, explicit: true }).catch((e: unknown) => (err = e));
    expect(isTbuildError(err, 'TB_PLATFORM_NOT_FOUND')).toBe(true);
    expect((err as Error).message).toMatch(/busybox:local: the image found is linux\/amd64, not the linux\/arm64 this stage is built for/);
    expect((err as { range?: { startLine: number } }).range?.startLine).toBe(1);
  });

  test('a stored base of another platform than the implied one is used, with BuildKit\'s InvalidBaseImagePlatform warning', async () => {
    const asked: Array<string | undefined> = [];
    const { c, warnings, runs } = await conv('FROM busybox:arm64\nRUN true\n', { asked });
    expect(asked).toEqual([undefined]);
    expect(warnings).toEqual(['InvalidBaseImagePlatform@1: Base image busybox:arm64 was pulled with platform "linux/arm64/v8", expected "linux/amd64" for current build']);
    expect(c.target.image.architecture).toBe('arm64');
    expect(runs[0]!.platform).toBe('linux/arm64/v8');
  });

  test('a bad FROM --platform value is an error at its line', async () => {
    let err: unknown;
    await conv('FROM busybox:local\nFROM --platform=linux/toaster busybox:local\n').catch((e: unknown) => (err = e));
    expect(isTbuildError(err, 'TB_INVALID_ARGUMENT')).toBe(true);
    expect((err as Error).message).toContain('"linux/toaster"');
    expect((err as { range?: { startLine: number } }).range?.startLine).toBe(2);
  });
});
