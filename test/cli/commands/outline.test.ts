import { test, expect, describe, beforeAll, afterAll } from 'vitest';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../../support/cli.js';
import { tempDir } from '../../support/tmp.js';

let dir = '';
let cleanup: () => Promise<void> = async () => {};
beforeAll(async () => {
  ({ path: dir, cleanup } = await tempDir('tb-outline-'));
  writeFileSync(join(dir, 'Dockerfile'), DOCKERFILE);
  mkdirSync(join(dir, 'other'));
  writeFileSync(join(dir, 'other', 'Dockerfile.bad'), 'FROM a\nRUN true\nFNTRYPOINT ["x"]\n');
});
afterAll(() => cleanup());

const DOCKERFILE = [
  '# syntax=docker/dockerfile:1.7',
  'ARG GO_VERSION=1.22',
  '# ALPINE_VERSION Alpine release of the runtime image',
  'ARG ALPINE_VERSION=3.20',
  'FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build',
  'ARG TARGETOS',
  'RUN --mount=type=secret,id=gh,required --mount=type=ssh GOOS=$TARGETOS go build -o /out/app .',
  '# final the image that ships',
  'FROM alpine:${ALPINE_VERSION} AS final',
  '# not a doc comment for UID',
  '#',
  '# UID user id of the app user',
  '',
  'ARG UID=10001',
  'RUN adduser -u "${UID}" app',
  'COPY --from=build /out/app /app',
  '',
].join('\n');

describe('tbuild outline', () => {
  test('json: stages, bases, ARGs with defaults, values and where used', async () => {
    const r = await runCli(['outline', '--format', 'json', '--build-arg', 'GO_VERSION=1.23', dir], { root: dir });
    expect(r.stderr).not.toContain('ERROR');
    expect(r.code).toBe(0);
    const o = JSON.parse(r.stdout) as {
      target: { index: number; name?: string };
      globalArgs: Array<{ name: string; default?: string; value?: string; usedAt: number[]; description?: string }>;
      stages: Array<{ name?: string; base: string; platform?: string; needed: boolean; dependsOn: number[]; args: Array<{ name: string; default?: string; usedAt: number[] }> }>;
    };
    expect(o.target).toEqual({ index: 1, name: 'final' });
    expect(o.globalArgs).toEqual([
      { name: 'GO_VERSION', line: 2, usedAt: [5], default: '1.22', value: '1.23' },
      { name: 'ALPINE_VERSION', line: 4, usedAt: [9], default: '3.20', value: '3.20', description: 'Alpine release of the runtime image' },
    ]);
    expect(o.stages.map((s) => [s.name, s.base, s.platform, s.needed, s.dependsOn])).toEqual([
      ['build', 'golang:1.23', 'linux/amd64', true, []],
      ['final', 'alpine:3.20', undefined, true, [0]],
    ]);
    expect(o.stages[1]!.args).toEqual([{ name: 'UID', line: 14, usedAt: [15], default: '10001', description: 'user id of the app user' }]);
    expect((o.stages[1] as { description?: string }).description).toBe('the image that ships');
    expect((o as unknown as { secrets: unknown }).secrets).toEqual([{ id: 'gh', required: true, lines: [7] }]);
    expect((o as unknown as { ssh: unknown }).ssh).toEqual([{ id: 'default', required: false, lines: [7] }]);
  });

  test('text with -f and --target', async () => {
    const r = await runCli(['outline', '-f', join(dir, 'Dockerfile'), '--target', 'BUILD'], { root: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('TARGET: build');
    expect(r.stdout).toContain('ARG GO_VERSION=1.22  line 2, used at 5');
    expect(r.stdout).toContain('#1 final: FROM alpine:3.20  line 9  (not needed for the target)  # the image that ships');
    expect(r.stdout).toContain('ARG TARGETOS  line 6, used at 7');
    expect(r.stdout).toContain('SECRETS\n  gh (required)  used at 7');
  });

  test('errors render like BuildKit; unknown target names it', async () => {
    const bad = await runCli(['outline', '-f', join(dir, 'other', 'Dockerfile.bad'), dir], { root: dir });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('>>> FNTRYPOINT ["x"]');
    expect(bad.stderr).toContain('ERROR: unknown instruction: FNTRYPOINT (did you mean ENTRYPOINT?)');
    const target = await runCli(['outline', '--target', 'finl', dir], { root: dir });
    expect(target.code).not.toBe(0);
    expect(target.stderr).toContain('target stage "finl" could not be found (did you mean final?)');
  });
});
