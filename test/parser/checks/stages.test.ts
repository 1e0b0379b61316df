import { describe, expect, test } from 'vitest';
import { findings } from './helpers.js';

describe('StageNameCasing', () => {
  test('upper-case stage name warns', () => {
    expect(findings('FROM scratch AS BadStageName\n', 'StageNameCasing')).toEqual([
      "StageNameCasing@1: Stage name 'BadStageName' should be lowercase",
    ]);
  });
  test('lower-case or no name is fine', () => {
    expect(findings('FROM scratch AS good-name.1\nFROM scratch\n', 'StageNameCasing')).toEqual([]);
  });
});

describe('FromAsCasing', () => {
  test('as does not match FROM', () => {
    expect(findings('FROM scratch as base2\n', 'FromAsCasing')).toEqual(["FromAsCasing@1: 'as' and 'FROM' keywords' casing do not match"]);
    expect(findings('from scratch AS base\nfrom scratch as base2\n', 'FromAsCasing')).toEqual([
      "FromAsCasing@1: 'AS' and 'from' keywords' casing do not match",
    ]);
  });
  test('matching casing, flags, and mixed-case FROM are fine', () => {
    expect(findings('FROM --platform=$BUILDPLATFORM scratch AS a\nfrom scratch as b\nFrom scratch as c\n', 'FromAsCasing')).toEqual([]);
  });
});

describe('DuplicateStageName', () => {
  test('same name twice (case-insensitive) warns at the second', () => {
    expect(findings('FROM scratch AS b\nFROM scratch AS B\n', 'DuplicateStageName')).toEqual([
      'DuplicateStageName@2: Duplicate stage name "b", stage names should be unique',
    ]);
  });
  test('distinct names are fine', () => {
    expect(findings('FROM scratch AS b1\nFROM scratch AS b2\n', 'DuplicateStageName')).toEqual([]);
  });
});

describe('ReservedStageName', () => {
  test('scratch and context are reserved', () => {
    expect(findings('FROM scratch AS scratch\nFROM scratch AS context\n', 'ReservedStageName')).toEqual([
      'ReservedStageName@1: Stage name should not use the same name as reserved stage "scratch"',
      'ReservedStageName@2: Stage name should not use the same name as reserved stage "context"',
    ]);
  });
  test('a reserved base name without alias is fine', () => {
    expect(findings('FROM scratch\nFROM scratch AS a\n', 'ReservedStageName')).toEqual([]);
  });
});

describe('ConsistentInstructionCasing', () => {
  test('mixed-case keyword against an upper-case majority', () => {
    expect(findings('From scratch as base\nFROM scratch AS base2\n', 'ConsistentInstructionCasing')).toEqual([
      "ConsistentInstructionCasing@1: Command 'From' should match the case of the command majority (uppercase)",
    ]);
  });
  test('minority casing is reported either way', () => {
    expect(findings('FROM scratch\ncopy Dockerfile /foo\nCOPY Dockerfile /bar\n', 'ConsistentInstructionCasing')).toEqual([
      "ConsistentInstructionCasing@2: Command 'copy' should match the case of the command majority (uppercase)",
    ]);
    expect(findings('from scratch\nCOPY Dockerfile /foo\ncopy Dockerfile /bar\n', 'ConsistentInstructionCasing')).toEqual([
      "ConsistentInstructionCasing@2: Command 'COPY' should match the case of the command majority (lowercase)",
    ]);
    expect(findings('FROM scratch\ncopy a /foo\ncopy b /bar\ncopy c /baz\n', 'ConsistentInstructionCasing')).toEqual([
      "ConsistentInstructionCasing@1: Command 'FROM' should match the case of the command majority (lowercase)",
    ]);
  });
  test('consistent files are fine', () => {
    expect(findings('from scratch\ncopy a /foo\ncopy b /bar\n', 'ConsistentInstructionCasing')).toEqual([]);
    expect(findings('FROM scratch\nRUN <<EOT\nenv\nEOT\n', 'ConsistentInstructionCasing')).toEqual([]);
  });
});

describe('NoEmptyContinuation', () => {
  test('an empty line inside a continuation warns', () => {
    expect(findings('FROM scratch\n# c\nCOPY Dockerfile \\\n\n.\nCOPY Dockerfile \\\n.\n', 'NoEmptyContinuation')).toEqual([
      'NoEmptyContinuation@5: Empty continuation line',
    ]);
  });
  test('continuations without empty lines are fine', () => {
    expect(findings('FROM scratch\nCOPY Dockerfile \\\n.\n', 'NoEmptyContinuation')).toEqual([]);
  });
});

describe('MaintainerDeprecated', () => {
  test('MAINTAINER warns', () => {
    expect(findings('FROM scratch\nMAINTAINER me@example.org\n', 'MaintainerDeprecated')).toEqual([
      'MaintainerDeprecated@2: Maintainer instruction is deprecated in favor of using label',
    ]);
  });
  test('a label is fine', () => {
    expect(findings('FROM scratch\nLABEL org.opencontainers.image.authors="me@example.org"\n')).toEqual([]);
  });
});
