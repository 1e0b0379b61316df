import { describe, expect, test } from 'vitest';
import { findings } from './helpers.js';

describe('InvalidDefinitionDescription (experimental)', () => {
  test('off unless asked for', () => {
    expect(findings('# bar this is the bar\nARG foo=bar\nFROM scratch\n')).toEqual([]);
  });
  test('comments that do not start with the name warn', () => {
    const df = [
      '# check=experimental=InvalidDefinitionDescription',
      '# bar this is the bar',
      'ARG foo=bar',
      '# BasE this is the BasE image',
      'FROM scratch AS base',
      '# definitely a bad comment',
      'ARG version=latest',
      '# definitely a bad comment',
      'ARG foo=baz bar=qux baz=quux',
      '',
    ].join('\n');
    expect(findings(df, 'InvalidDefinitionDescription')).toEqual([
      'InvalidDefinitionDescription@3: Comment for ARG should follow the format: `# foo <description>`',
      'InvalidDefinitionDescription@5: Comment for FROM should follow the format: `# base <description>`',
      'InvalidDefinitionDescription@7: Comment for ARG should follow the format: `# version <description>`',
      'InvalidDefinitionDescription@9: Comment for ARG should follow the format: `# <arg_key> <description>`',
    ]);
  });
  test('well-formed descriptions, reset comments and other instructions are fine', () => {
    const df = [
      '# check=skip=all;experimental=InvalidDefinitionDescription',
      '# foo this is the foo',
      'ARG foo=bar',
      '',
      '# base this is the base image',
      'FROM scratch AS base',
      '',
      '# version this is the version number',
      'ARG version=latest',
      '',
      '# baz this is the baz',
      'ARG foo=baz bar=qux baz=quux',
      '#',
      'ARG bit=bat',
      '',
      '# comment for something other than ARG or FROM',
      'COPY Dockerfile .',
      '',
    ].join('\n');
    expect(findings(df)).toEqual([]);
  });
});
