import { describe, expect, test } from 'vitest';
import { hasWildcard, matchComponent } from '../../../src/worker/file/match.js';
import { parseChmod } from '../../../src/worker/file/chmod.js';
import { cleanSourcePath } from '../../../src/worker/file/select.js';
import { isTbuildError } from '../../../src/errors.js';

describe('Go filepath.Match per component', () => {
  test.each([
    ['*.txt', 'a.txt', true],
    ['*.txt', '.hidden.txt', true],
    ['*', '', true],
    ['?.md', 'c.md', true],
    ['?.md', 'long.md', false],
    ['[ab].txt', 'a.txt', true],
    ['[ab].txt', 'c.txt', false],
    ['[^ab].txt', 'c.txt', true],
    ['[^ab].txt', 'a.txt', false],
    ['[a-c]x', 'bx', true],
    ['[a-c]x', 'dx', false],
    ['\\*x', '*x', true],
    ['\\*x', 'ax', false],
    ['**', 'abc', true],
    ['a.b', 'axb', false],
    ['日*', '日本語', true],
  ])('%s ~ %s → %s', (pattern, name, want) => {
    expect(matchComponent(pattern, name)).toBe(want);
  });

  test('malformed patterns are errors', () => {
    for (const bad of ['[', '[a-', '[]', 'x\\']) {
      expect(() => matchComponent(bad, 'x')).toThrow();
    }
    try {
      matchComponent('[z-a]', 'x');
    } catch (e) {
      expect(isTbuildError(e, 'TB_INVALID_ARGUMENT')).toBe(true);
    }
  });

  test('wildcard detection honours escapes', () => {
    expect(hasWildcard('a*')).toBe(true);
    expect(hasWildcard('a[b]')).toBe(true);
    expect(hasWildcard('a\\*')).toBe(false);
    expect(hasWildcard('plain.txt')).toBe(false);
  });

  test('source paths are cleaned inside the root', () => {
    expect(cleanSourcePath('../escape.txt')).toBe('escape.txt');
    expect(cleanSourcePath('./a//b/')).toBe('a/b');
    expect(cleanSourcePath('.')).toBe('');
    expect(cleanSourcePath('/abs/../x')).toBe('x');
  });
});

describe('--chmod', () => {
  test('octal replaces the permission bits', () => {
    expect(parseChmod('0640')(0o755, false)).toBe(0o640);
    expect(parseChmod('750')(0o644, true)).toBe(0o750);
    expect(parseChmod('4755')(0o644, false)).toBe(0o4755);
  });

  test.each([
    ['u+x', 0o644, false, 0o744],
    ['u+x,g-r', 0o644, false, 0o704],
    ['a=rX', 0o744, false, 0o555],
    ['a=rX', 0o644, false, 0o444],
    ['a=rX', 0o700, true, 0o555],
    ['go-rwx', 0o777, false, 0o700],
    ['+x', 0o644, false, 0o755],
    ['o=u', 0o640, false, 0o646],
    ['u+s', 0o755, false, 0o4755],
    ['+t', 0o777, true, 0o1777],
    ['u=rw,go=', 0o777, false, 0o600],
  ])('%s on %o (dir %s) → %o', (spec, mode, isDir, want) => {
    expect(parseChmod(spec)(mode, isDir)).toBe(want);
  });

  test('garbage is TB_INVALID_ARGUMENT', () => {
    for (const bad of ['u+q', '99', 'rwx', 'u+x,,', '0o755']) {
      let err: unknown;
      try {
        parseChmod(bad);
      } catch (e) {
        err = e;
      }
      expect(isTbuildError(err, 'TB_INVALID_ARGUMENT')).toBe(true);
    }
  });
});
