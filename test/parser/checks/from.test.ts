import { describe, expect, test } from 'vitest';
import { findings } from './helpers.js';

describe('UndefinedArgInFrom', () => {
  test('an undeclared name in FROM warns, with a suggestion', () => {
    expect(findings('FROM --platform=$BULIDPLATFORM scratch\n', 'UndefinedArgInFrom')).toEqual([
      "UndefinedArgInFrom@1: FROM argument 'BULIDPLATFORM' is not declared (did you mean BUILDPLATFORM?)",
    ]);
    expect(findings('ARG tag=latest\nFROM busybox:${tag}${version} AS b\n', 'UndefinedArgInFrom')).toEqual([
      "UndefinedArgInFrom@2: FROM argument 'version' is not declared",
    ]);
    expect(findings('ARG MY_OS=linux\nARG MY_ARCH=amd64\nFROM --platform=linux/${MYARCH} busybox\n', 'UndefinedArgInFrom')).toEqual([
      "UndefinedArgInFrom@3: FROM argument 'MYARCH' is not declared (did you mean MY_ARCH?)",
    ]);
  });
  test('declared (even without value) and automatic args are fine', () => {
    const ok = [
      'ARG base=scratch\nFROM $base\n',
      'ARG BUILDPLATFORM=linux/amd64\nFROM --platform=$BUILDPLATFORM scratch\n',
      'FROM --platform=$BUILDPLATFORM scratch\n',
      'ARG DEBUG\nFROM scratch${DEBUG}\n',
      'ARG DEBUG\nFROM scra${DEBUG:-tch}\n',
    ];
    for (const df of ok) expect(findings(df, 'UndefinedArgInFrom'), df).toEqual([]);
  });
});

describe('RedundantTargetPlatform', () => {
  test('$TARGETPLATFORM alone warns', () => {
    expect(findings('FROM --platform=$TARGETPLATFORM scratch\n', 'RedundantTargetPlatform')).toEqual([
      'RedundantTargetPlatform@1: Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior',
    ]);
    expect(findings('FROM --platform=${TARGETPLATFORM} scratch\n', 'RedundantTargetPlatform')).toHaveLength(1);
  });
  test('other platform values are fine', () => {
    expect(findings('FROM --platform=$BUILDPLATFORM scratch\n', 'RedundantTargetPlatform')).toEqual([]);
    expect(findings('FROM --platform=${TARGETPLATFORM}-x scratch\n', 'RedundantTargetPlatform')).toEqual([]);
  });
});

describe('FromPlatformFlagConstDisallowed', () => {
  test('a constant platform warns', () => {
    expect(findings('FROM --platform=linux/amd64 busybox\n', 'FromPlatformFlagConstDisallowed')).toEqual([
      'FromPlatformFlagConstDisallowed@1: FROM --platform flag should not use constant value "linux/amd64"',
    ]);
  });
  test('a variable, or a stage named for the platform, is fine', () => {
    expect(findings('FROM --platform=$BUILDPLATFORM busybox\n', 'FromPlatformFlagConstDisallowed')).toEqual([]);
    expect(findings('FROM --platform=linux/amd64 busybox AS build_amd64\n', 'FromPlatformFlagConstDisallowed')).toEqual([]);
    expect(findings('FROM --platform=linux/arm64 busybox AS linux-builder\n', 'FromPlatformFlagConstDisallowed')).toEqual([]);
    expect(findings('FROM --platform=x86_64 busybox AS amd64\n', 'FromPlatformFlagConstDisallowed')).toEqual([]);
  });
});

describe('InvalidDefaultArgInFrom', () => {
  test('defaults that give an invalid name warn, whatever the build args', () => {
    expect(findings('ARG VERSION\nFROM busybox:$VERSION\n', 'InvalidDefaultArgInFrom', { buildArgs: { VERSION: 'latest' } })).toEqual([
      'InvalidDefaultArgInFrom@2: Default value for ARG busybox:$VERSION results in empty or invalid base image name',
    ]);
    expect(findings('ARG IMAGE\nFROM $IMAGE\n', 'InvalidDefaultArgInFrom', { buildArgs: { IMAGE: 'busybox:latest' } })).toEqual([
      'InvalidDefaultArgInFrom@2: Default value for ARG $IMAGE results in empty or invalid base image name',
    ]);
    expect(findings('ARG SFX="box:"\nFROM busy${SFX}\n', 'InvalidDefaultArgInFrom')).toHaveLength(1);
  });
  test('valid defaults are fine', () => {
    expect(findings('ARG VERSION="latest"\nFROM busybox:${VERSION}\n', 'InvalidDefaultArgInFrom')).toEqual([]);
    expect(findings('ARG V=""\nFROM busybox:stable${V}\n', 'InvalidDefaultArgInFrom')).toEqual([]);
    expect(findings('ARG DEBUG=""\nFROM scratch${DEBUG-@bogus}\n', 'InvalidDefaultArgInFrom')).toEqual([]);
    expect(findings('FROM registry.example.com:5000/team/app:1.0@sha256:' + 'a'.repeat(64) + '\n', 'InvalidDefaultArgInFrom')).toEqual([]);
  });
});

describe('InvalidBaseImagePlatform', () => {
  const baseImage = (ref: string) => (ref === 'arm-only' ? { platform: 'linux/arm64' } : { platform: 'linux/amd64' });
  test('a base pulled for another platform warns', () => {
    expect(findings('FROM arm-only\n', 'InvalidBaseImagePlatform', { baseImage })).toEqual([
      'InvalidBaseImagePlatform@1: Base image arm-only was pulled with platform "linux/arm64", expected "linux/amd64" for current build',
    ]);
  });
  test('a matching platform, or an unknown image, is fine', () => {
    expect(findings('FROM busybox\n', 'InvalidBaseImagePlatform', { baseImage })).toEqual([]);
    expect(findings('FROM --platform=linux/arm64 arm-only AS arm64\n', 'InvalidBaseImagePlatform', { baseImage })).toEqual([]);
    expect(findings('FROM arm-only\n', 'InvalidBaseImagePlatform')).toEqual([]);
  });
});
