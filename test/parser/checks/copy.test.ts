import { describe, expect, test } from 'vitest';
import { findings } from './helpers.js';
import { IgnoreMatcher, parseDockerignore } from '../../../src/parser/dockerignore.js';

const ignore = (text: string) => new IgnoreMatcher(parseDockerignore(text));

describe('CopyIgnoredFile', () => {
  test('copying an ignored file warns (COPY and ADD)', () => {
    expect(findings('FROM scratch\nCOPY Dockerfile .\nADD Dockerfile /windy\n', 'CopyIgnoredFile', { ignore: ignore('Dockerfile\n') })).toEqual([
      'CopyIgnoredFile@2: Attempting to Copy file "Dockerfile" that is excluded by .dockerignore',
      'CopyIgnoredFile@3: Attempting to Add file "Dockerfile" that is excluded by .dockerignore',
    ]);
  });
  test('a file under an ignored directory, after expansion and cleaning', () => {
    expect(findings('FROM scratch\nARG D=./build\nCOPY $D/out/app /app\n', 'CopyIgnoredFile', { ignore: ignore('build\n') })).toEqual([
      'CopyIgnoredFile@3: Attempting to Copy file "build/out/app" that is excluded by .dockerignore',
    ]);
  });
  test('the context root only when everything is ignored', () => {
    expect(findings('FROM scratch\nCOPY . .\n', 'CopyIgnoredFile', { ignore: ignore('.*\n') })).toEqual([]);
    expect(findings('FROM scratch\nCOPY . .\n', 'CopyIgnoredFile', { ignore: ignore('*\n') })).toEqual([
      'CopyIgnoredFile@2: Attempting to Copy file "." that is excluded by .dockerignore',
    ]);
  });
  test('no warning with exceptions, --from, other files, skip or no ignore file', () => {
    expect(findings('FROM scratch\nCOPY ./Dockerfile .\n', 'CopyIgnoredFile', { ignore: ignore('**\n!Dockerfile\n') })).toEqual([]);
    expect(findings('FROM scratch AS base\nCOPY Dockerfile /foobar\nFROM base\nCOPY --from=base /foobar /x\n', 'CopyIgnoredFile', { ignore: ignore('foobar\n') })).toEqual([]);
    expect(findings('# check=skip=CopyIgnoredFile\nFROM scratch\nCOPY Dockerfile .\n', undefined, { ignore: ignore('Dockerfile\n') })).toEqual([]);
    expect(findings('FROM scratch\nCOPY Dockerfile .\n', 'CopyIgnoredFile')).toEqual([]);
    expect(findings('FROM scratch\nADD https://example.com/Dockerfile .\nCOPY <<Dockerfile /x\nhi\nDockerfile\n', 'CopyIgnoredFile', { ignore: ignore('Dockerfile\nhttps*\n') })).toEqual([]);
  });
});
