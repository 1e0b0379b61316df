import { describe, expect, test } from 'vitest';
import { redactCredentials } from '../../src/util/redact-url.js';

describe('redactCredentials', () => {
  test('a password is shown as xxxxx, a token given as the user name too', () => {
    expect(redactCredentials('https://user:s3cret@host/repo.git')).toBe('https://user:xxxxx@host/repo.git');
    expect(redactCredentials('https://ghp_token@github.com/o/r.git#main:dir')).toBe('https://xxxxx@github.com/o/r.git#main:dir');
  });

  test('an ssh login name is not a secret; text that is not such a URL is left alone', () => {
    expect(redactCredentials('ssh://git@host/repo.git')).toBe('ssh://git@host/repo.git');
    expect(redactCredentials('ssh://git:pw@host/repo.git')).toBe('ssh://git:xxxxx@host/repo.git');
    expect(redactCredentials('git@github.com:o/r.git')).toBe('git@github.com:o/r.git');
    expect(redactCredentials('https://host/file.tar.gz')).toBe('https://host/file.tar.gz');
    expect(redactCredentials('.')).toBe('.');
  });
});
