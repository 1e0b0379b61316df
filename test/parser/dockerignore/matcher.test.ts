import { describe, expect, test } from 'vitest';
import { CASES, keptByMatcher } from './cases.js';
import { IgnoreMatcher, parseDockerignore } from '../../../src/parser/dockerignore.js';
import { isTbuildError } from '../../../src/errors.js';

describe('IgnoreMatcher against the Docker CLI golden cases', () => {
  test('there are enough cases', () => {
    expect(CASES.cases.length).toBeGreaterThanOrEqual(40);
  });
  test.each(CASES.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(keptByMatcher(CASES.tree, c.dockerignore)).toEqual(c.expected);
  });
});

describe('parseDockerignore', () => {
  const cases: [string, string[]][] = [
    ['', []],
    ['# comment\n\n  \n', []],
    [' # not a comment', ['# not a comment']],
    ['a\nb\r\nc', ['a', 'b', 'c']],
    ['\ufeffbom', ['bom']],
    ['  spaced  ', ['spaced']],
    ['/abs', ['abs']],
    ['/', ['/']],
    ['./a/../b/./c/', ['b/c']],
    ['a//b', ['a/b']],
    ['!/x', ['!x']],
    ['! x', ['!x']],
    ['!', ['!']],
    ['!./y/', ['!y']],
    ['..', ['..']],
    ['../a', ['../a']],
    ['/../a', ['a']],
    ['**/*.go', ['**/*.go']],
  ];
  test.each(cases)('%j', (text, expected) => {
    expect(parseDockerignore(text)).toEqual(expected);
  });
});

describe('IgnoreMatcher', () => {
  test('no patterns excludes nothing', () => {
    const m = new IgnoreMatcher([]);
    expect(m.hasPatterns).toBe(false);
    expect(m.matches('a')).toBe(false);
    expect(m.canSkipDir('a')).toBe(false);
  });

  test('path forms are normalised', () => {
    const m = new IgnoreMatcher(['a/b']);
    expect(m.matches('a/b')).toBe(true);
    expect(m.matches('./a/b/')).toBe(true);
    expect(m.matches('/a/b/c')).toBe(true);
    expect(m.matches('a')).toBe(false);
    expect(m.matches('.')).toBe(false);
    expect(m.matches('')).toBe(false);
  });

  test('canSkipDir only when no exception points inside', () => {
    const m = new IgnoreMatcher(parseDockerignore('node_modules\nsrc\n!src/keep\nlogs\n!**/important.log'));
    expect(m.canSkipDir('node_modules')).toBe(true);
    expect(m.canSkipDir('node_modules/x/y')).toBe(true);
    expect(m.canSkipDir('src')).toBe(false);
    expect(m.matches('src')).toBe(true);
    expect(m.matches('src/keep')).toBe(false);
    expect(m.matches('src/other')).toBe(true);
    expect(m.canSkipDir('logs')).toBe(true);
    expect(m.matches('logs/important.log')).toBe(true);
    expect(m.matches('important.log')).toBe(false);
    expect(m.canSkipDir('docs')).toBe(false);
  });

  test('exceptions re-include below an excluded directory', () => {
    const m = new IgnoreMatcher(parseDockerignore('docs\n!docs/guide\ndocs/guide/img'));
    expect(m.matches('docs/README.md')).toBe(true);
    expect(m.matches('docs/guide/intro.md')).toBe(false);
    expect(m.matches('docs/guide/img/logo.png')).toBe(true);
    expect(m.canSkipDir('docs/guide/img')).toBe(true);
    expect(m.canSkipDir('docs/guide')).toBe(false);
  });

  test('double-star forms', () => {
    const m = new IgnoreMatcher(['**/*.tmp', 'cache/**', '**']);
    expect(m.matches('x.tmp')).toBe(true);
    const n = new IgnoreMatcher(['**/*.tmp']);
    expect(n.matches('a/b/c.tmp')).toBe(true);
    expect(n.matches('c.tmp')).toBe(true);
    expect(n.matches('a/c.tmpx')).toBe(false);
    const p = new IgnoreMatcher(['a/**/z']);
    expect(p.matches('a/z')).toBe(true);
    expect(p.matches('a/b/c/z')).toBe(true);
    expect(p.matches('b/a/z')).toBe(false);
  });

  test('wildcards do not cross slashes', () => {
    const m = new IgnoreMatcher(['*.go', 'a?c']);
    expect(m.matches('main.go')).toBe(true);
    expect(m.matches('src/main.go')).toBe(false);
    expect(m.matches('abc')).toBe(true);
    expect(m.matches('a/c')).toBe(false);
  });

  test('unicode and regexp metacharacters are literal', () => {
    const m = new IgnoreMatcher(['ü?.t+t', '(x)|{y}$', 'a]b', 'p[.]q', 'r[*]s']);
    expect(m.matches('üa.t+t')).toBe(true);
    expect(m.matches('üa.ttt')).toBe(false);
    expect(m.matches('(x)|{y}$')).toBe(true);
    expect(m.matches('a]b')).toBe(true);
    expect(m.matches('p.q')).toBe(true);
    expect(m.matches('pxq')).toBe(false);
    expect(m.matches('r*s')).toBe(true);
    const e = new IgnoreMatcher(['\\*', 'x\\?y', '🚀?']);
    expect(e.matches('*')).toBe(true);
    expect(e.matches('a')).toBe(false);
    expect(e.matches('x?y')).toBe(true);
    expect(e.matches('xzy')).toBe(false);
    expect(e.matches('🚀👽')).toBe(true);
  });

  test.each([['!'], ['['], ['a[b'], ['[]'], ['[a-]'], ['x\\']])('bad pattern %j is TB_DOCKERIGNORE', (p) => {
    let caught: unknown;
    try {
      new IgnoreMatcher([p]);
    } catch (err) {
      caught = err;
    }
    expect(isTbuildError(caught, 'TB_DOCKERIGNORE')).toBe(true);
  });

  test.each([['[z-a]'], ['src\\util'], ['x\\1']])('pattern %j only fails when it is used, as in moby', (p) => {
    const unused = new IgnoreMatcher(['!' + p]);
    expect(unused.matches('anything')).toBe(false);
    const used = new IgnoreMatcher([p]);
    expect(() => used.matches('anything')).toThrow(/syntax error in pattern/);
  });

  test('RE2 escapes behave as in Go', () => {
    const m = new IgnoreMatcher(['x\\d', 'a\\tb', 'y\\101', 'q\\Qz*']);
    expect(m.matches('x5')).toBe(true);
    expect(m.matches('xA')).toBe(false);
    expect(m.matches('a\tb')).toBe(true);
    expect(m.matches('yA')).toBe(true);
    expect(m.matches('qz*$')).toBe(true);
    expect(m.matches('qzz')).toBe(false);
  });
});
