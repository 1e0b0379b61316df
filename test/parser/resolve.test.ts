import { test, expect, describe } from 'vitest';
import { parseDockerfile } from '../../src/parser/parse.js';
import { resolveDockerfile } from '../../src/parser/resolve.js';
import { isTbuildError, type TbuildError } from '../../src/errors.js';
import type { ResolveOptions } from '../../src/parser/types.js';

const resolve = (text: string, opts: ResolveOptions = {}) => resolveDockerfile(parseDockerfile(text), opts);

function resolveError(text: string, opts: ResolveOptions = {}): TbuildError {
  try {
    resolve(text, opts);
  } catch (err) {
    if (isTbuildError(err)) return err;
    throw err;
  }
  throw new Error('expected resolve to fail');
}

describe('FROM expansion with global ARGs', () => {
  test('defaults, build-arg overrides, chained defaults', () => {
    const text = 'ARG REPO=library\nARG IMG=${REPO}/alpine\nARG TAG=3.20\nFROM ${IMG}:$TAG AS base\nFROM base\n';
    expect(resolve(text).stages[0]!.base).toEqual({ type: 'image', ref: 'library/alpine:3.20' });
    expect(resolve(text, { buildArgs: { TAG: 'edge' } }).stages[0]!.base).toEqual({ type: 'image', ref: 'library/alpine:edge' });
    expect(resolve(text, { buildArgs: { REPO: 'me' } }).stages[0]!.base).toEqual({ type: 'image', ref: 'me/alpine:3.20' });
    const r = resolve(text, { buildArgs: { TAG: 'edge', UNDECLARED: 'x' } });
    expect(r.globalArgs.get('TAG')).toBe('edge');
    expect(r.globalArgs.has('UNDECLARED')).toBe(false);
    expect(r.stages[1]!.base).toEqual({ type: 'stage', index: 0 });
  });

  test('an ARG declared without a value is unset; FROM expanding to nothing fails', () => {
    const err = resolveError('ARG IMG\nFROM $IMG\n');
    expect(err.code).toBe('TB_PARSE_BAD_ARGS');
    expect(err.range?.startLine).toBe(2);
    expect(resolve('ARG IMG\nFROM ${IMG:-busybox}\n').stages[0]!.base).toEqual({ type: 'image', ref: 'busybox' });
    expect(resolve('ARG IMG\nFROM $IMG\n', { buildArgs: { IMG: 'x' } }).stages[0]!.base).toEqual({ type: 'image', ref: 'x' });
  });

  test('ARGs declared after FROM do not affect FROM', () => {
    const r = resolve('FROM a\nARG V=1\nFROM img:${V:-none}\n');
    expect(r.stages[1]!.base).toEqual({ type: 'image', ref: 'img:none' });
  });

  test('automatic platform ARGs are global, default linux/amd64', () => {
    const r = resolve('FROM --platform=$BUILDPLATFORM a AS b\nFROM img-$TARGETOS-$TARGETARCH$TARGETVARIANT\n');
    expect(r.stages[0]!.platform).toBe('linux/amd64');
    expect(r.stages[1]!.base).toEqual({ type: 'image', ref: 'img-linux-amd64' });
    expect(Object.fromEntries(r.globalArgs)).toMatchObject({
      BUILDPLATFORM: 'linux/amd64', BUILDOS: 'linux', BUILDARCH: 'amd64', BUILDVARIANT: '',
      TARGETPLATFORM: 'linux/amd64', TARGETOS: 'linux', TARGETARCH: 'amd64', TARGETVARIANT: '',
    });
    const arm = resolve('FROM img-$TARGETARCH-$TARGETVARIANT\n', { targetPlatform: 'linux/arm/v7' });
    expect(arm.stages[0]!.base).toEqual({ type: 'image', ref: 'img-arm-v7' });
    expect(arm.globalArgs.get('BUILDPLATFORM')).toBe('linux/amd64');
  });

  test('scratch', () => {
    expect(resolve('FROM scratch\n').stages[0]!.base).toEqual({ type: 'scratch' });
  });
});

describe('stages', () => {
  const graph = [
    'FROM busybox AS Builder', 'RUN b',
    'FROM builder AS second', 'COPY --from=BUILDER /b /b2',
    'FROM busybox AS unused', 'RUN exit 1',
    'FROM busybox AS mounted',
    'FROM scratch AS final', 'COPY --from=second /x /x', 'RUN --mount=type=bind,from=MOUNTED,target=/m true', 'COPY --from=0 /y /y', 'COPY --from=alpine:3 /z /z',
    '',
  ].join('\n');

  test('names are case-insensitive, dependencies from FROM, COPY --from and mount from=', () => {
    const r = resolve(graph);
    expect(r.stages[1]!.base).toEqual({ type: 'stage', index: 0 });
    expect(r.stages[1]!.dependsOn).toEqual([0]);
    expect(r.stages[4]!.dependsOn).toEqual([1, 3, 0]);
    expect(r.target).toBe(4);
  });

  test('only the stages the target needs, dependencies first', () => {
    expect(resolve(graph).needed).toEqual([0, 1, 3, 4]);
    expect(resolve(graph, { target: 'SECOND' }).needed).toEqual([0, 1]);
    expect(resolve(graph, { target: 'unused' }).needed).toEqual([2]);
    expect(resolve(graph, { target: '1' }).target).toBe(1);
  });

  test('--target not found names it and suggests', () => {
    const err = resolveError(graph, { target: 'secnd' });
    expect(err.code).toBe('TB_STAGE_NOT_FOUND');
    expect(err.message).toContain('secnd');
    expect(err.message).toContain('did you mean second');
    expect(resolveError(graph, { target: 'nosuchtarget' }).message).toContain('nosuchtarget');
  });

  test('circular stages', () => {
    const self = resolveError('FROM busybox AS selfref\nCOPY --from=selfref /x /x\n');
    expect(self.code).toBe('TB_STAGE_CIRCULAR');
    expect(self.message).toContain('selfref');
    expect(self.range?.startLine).toBe(2);
    const two = resolveError('FROM b AS a\nCOPY --from=b /x /x\nFROM b AS b\nRUN --mount=from=a,target=/a true\n');
    expect(two.code).toBe('TB_STAGE_CIRCULAR');
    expect(two.message).toMatch(/a -> b -> a/);
  });

  test('a later stage name in FROM is an image, not a stage', () => {
    const r = resolve('FROM later AS first\nFROM busybox AS later\n');
    expect(r.stages[0]!.base).toEqual({ type: 'image', ref: 'later' });
  });

  test('duplicate stage names: the latest one visible wins', () => {
    const r = resolve('FROM a AS base\nFROM b AS base\nFROM base AS mid\nFROM c AS base\nFROM scratch\nCOPY --from=base /x /x\n');
    expect(r.stages[2]!.base).toEqual({ type: 'stage', index: 1 });
    expect(r.stages[4]!.dependsOn).toEqual([3]);
    expect(resolve('FROM a AS x\nFROM b AS X\n', { target: 'x' }).target).toBe(1);
  });

  test('a stage index out of range', () => {
    const err = resolveError('FROM a\nCOPY --from=3 /x /x\n');
    expect(err.code).toBe('TB_STAGE_NOT_FOUND');
    expect(err.message).toContain('3');
  });

  test('COPY --from takes no variables; mount from= names a stage by name only', () => {
    expect(() => resolve('ARG SRC=one\nFROM a AS one\nFROM a\nCOPY --from=${SRC} /x /x\n')).toThrow(/--from/);
    // quotes around a flag value are removed with the flags, as in BuildKit
    expect(resolve('FROM a AS one\nFROM a\nCOPY --from="one" /x /x\n').stages[1]!.dependsOn).toEqual([0]);
    const r = resolve('FROM a AS one\nFROM a\nRUN --mount=from=0,target=/x true\nRUN --mount=from=ONE,target=/y true\n');
    expect(r.stages[1]!.dependsOn).toEqual([0]);
  });

  test('FROM --platform expanding to nothing fails', () => {
    const err = resolveError('ARG P\nFROM --platform=$P a\n');
    expect(err.code).toBe('TB_PARSE_BAD_ARGS');
    expect(err.message).toContain('platform');
  });
});
