import { describe, expect, test } from 'vitest';
import {
  familiarName,
  familiarRepository,
  normalizeReference,
  normalizeTagReference,
  parseReference,
} from '../../src/images/reference.js';
import { isTbuildError } from '../../src/errors.js';

const D = 'sha256:' + 'a'.repeat(64);

describe('normalizeReference', () => {
  test.each([
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['index.docker.io/library/busybox:x', 'docker.io/library/busybox:x'],
    ['me/app', 'docker.io/me/app:latest'],
    ['me/sub/app:v1', 'docker.io/me/sub/app:v1'],
    ['localhost/app', 'localhost/app:latest'],
    ['localhost:5000/x', 'localhost:5000/x:latest'],
    ['localhost:5000/x:1', 'localhost:5000/x:1'],
    ['myreg:5000/app:1', 'myreg:5000/app:1'],
    ['registry.example.com/a/b/c:tag_1.0-rc', 'registry.example.com/a/b/c:tag_1.0-rc'],
    ['127.0.0.1:5000/app', '127.0.0.1:5000/app:latest'],
    ['[::1]:5000/app:2', '[::1]:5000/app:2'],
    ['ab/c-d__e_f.g---h', 'docker.io/ab/c-d__e_f.g---h:latest'],
    ['localhost:5000', 'docker.io/library/localhost:5000'],
    [`busybox@${D}`, `docker.io/library/busybox@${D}`],
    [`busybox:1@${D}`, `docker.io/library/busybox:1@${D}`],
    [`localhost:5000/x@${D}`, `localhost:5000/x@${D}`],
    ['Foo.com/bar', 'Foo.com/bar:latest'],
  ])('%s → %s', (input, want) => {
    expect(normalizeReference(input)).toBe(want);
  });
});

describe('invalid references', () => {
  test.each([
    ['', /invalid reference format/],
    [' busybox', /invalid reference format/],
    ['Busybox', /repository name \(library\/Busybox\) must be lowercase/],
    ['me/App', /must be lowercase/],
    ['busybox:', /invalid reference format/],
    ['busybox::1', /invalid reference format/],
    ['busybox:-x', /invalid reference format/],
    ['busybox:' + 'a'.repeat(129), /invalid reference format/],
    ['bu$ybox', /invalid reference format/],
    ['-busybox', /invalid reference format/],
    ['busybox-', /invalid reference format/],
    ['a//b', /invalid reference format/],
    ['a/', /invalid reference format/],
    ['a_b.c/x', /invalid reference format/],
    ['a___b', /invalid reference format/],
    ['/a', /invalid reference format/],
    ['busybox@sha256:abc', /invalid reference format/],
    ['busybox@', /invalid reference format/],
    ['a'.repeat(64), /cannot specify 64-byte hexadecimal strings/],
    ['x/' + 'a'.repeat(260), /must not be more than 255 characters/],
  ])('%j', (input, msg) => {
    let err: unknown;
    try {
      parseReference(input);
    } catch (e) {
      err = e;
    }
    expect(isTbuildError(err, 'TB_REFERENCE_INVALID')).toBe(true);
    expect((err as Error).message).toMatch(msg);
  });

  test('tags cannot carry a digest', () => {
    expect(() => normalizeTagReference(`busybox@${D}`)).toThrow(/digest reference/);
    expect(normalizeTagReference('busybox')).toBe('docker.io/library/busybox:latest');
  });
});

describe('familiarName', () => {
  test.each([
    ['docker.io/library/busybox:latest', 'busybox:latest'],
    ['busybox', 'busybox'],
    ['docker.io/me/app:1', 'me/app:1'],
    ['docker.io/library/a/b:1', 'library/a/b:1'],
    ['myreg:5000/app:1', 'myreg:5000/app:1'],
    ['localhost/app:latest', 'localhost/app:latest'],
    [`docker.io/library/busybox@${D}`, `busybox@${D}`],
  ])('%s → %s', (input, want) => {
    expect(familiarName(input)).toBe(want);
  });

  test('familiarRepository drops tag and digest', () => {
    expect(familiarRepository('docker.io/library/busybox:1')).toBe('busybox');
    expect(familiarRepository(`myreg:5000/app:1@${D}`)).toBe('myreg:5000/app');
  });
});

describe('parseReference', () => {
  test('splits domain, path, tag and digest', () => {
    expect(parseReference(`localhost:5000/a/b:v2@${D}`)).toEqual({
      domain: 'localhost:5000',
      path: 'a/b',
      tag: 'v2',
      digest: D,
    });
    expect(parseReference('busybox')).toEqual({ domain: 'docker.io', path: 'library/busybox' });
  });
});
