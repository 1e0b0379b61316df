import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../support/tmp.js';
import { DockerConfigCredentials, normalizeServer } from '../../src/registry/credentials.js';
import { parseChallenges } from '../../src/registry/auth.js';

let dir: { path: string; cleanup: () => Promise<void> };
let n = 0;
const oldPath = process.env.PATH;

beforeAll(async () => {
  dir = await tempDir('tb-cred-');
  // A real credential helper program (docker-credential-NAME get|store|erase), keeping its store in a file.
  const bin = join(dir.path, 'bin');
  await mkdir(bin);
  const store = join(dir.path, 'helper-store');
  await writeFile(
    join(bin, 'docker-credential-tbtest'),
    `#!/bin/sh
set -e
store=${store}
case "$1" in
  get) read -r server || true; if [ -f "$store.$server" ]; then cat "$store.$server"; else echo "credentials not found in native keychain"; exit 1; fi ;;
  store) cat > "$store.tmp"; server=$(sed -n 's/.*"ServerURL":"\\([^"]*\\)".*/\\1/p' "$store.tmp"); mv "$store.tmp" "$store.$server" ;;
  erase) read -r server || true; rm "$store.$server" ;;
esac
`,
  );
  await chmod(join(bin, 'docker-credential-tbtest'), 0o755);
  process.env.PATH = `${bin}:${oldPath}`;
});
afterAll(async () => {
  process.env.PATH = oldPath;
  await dir.cleanup();
});

async function configDir(config?: unknown): Promise<string> {
  const d = join(dir.path, `cfg-${n++}`);
  await mkdir(d);
  if (config !== undefined) await writeFile(join(d, 'config.json'), JSON.stringify(config));
  return d;
}

describe("Docker's config.json", () => {
  test('auths entries: base64 auth, docker.io under its v1 URL, identity tokens', async () => {
    const d = await configDir({
      auths: {
        'https://index.docker.io/v1/': { auth: Buffer.from('hubuser:hubpass').toString('base64') },
        'reg.example:5000': { auth: Buffer.from('u:p:with:colons').toString('base64') },
        'https://tok.example/v2/': { identitytoken: 'refresh-me' },
      },
    });
    const c = new DockerConfigCredentials(d);
    expect(await c.get('docker.io')).toEqual({ username: 'hubuser', password: 'hubpass' });
    expect(await c.get('reg.example:5000')).toEqual({ username: 'u', password: 'p:with:colons' });
    expect(await c.get('tok.example')).toEqual({ identityToken: 'refresh-me' });
    expect(await c.get('other.example')).toBeUndefined();
  });

  test('store and erase write auths the way docker login does (mode 0600)', async () => {
    const d = await configDir({ auths: {}, somethingElse: { kept: true } });
    const c = new DockerConfigCredentials(d);
    await c.store('docker.io', { username: 'me', password: 'pw' });
    const cfg = JSON.parse(await readFile(join(d, 'config.json'), 'utf8'));
    expect(cfg).toEqual({ auths: { 'https://index.docker.io/v1/': { auth: Buffer.from('me:pw').toString('base64') } }, somethingElse: { kept: true } });
    expect(await c.erase('docker.io')).toBe(true);
    expect(await c.erase('docker.io')).toBe(false);
  });

  test('credHelpers and credsStore run docker-credential-NAME', async () => {
    const d = await configDir({ credHelpers: { 'helped.example': 'tbtest' } });
    const c = new DockerConfigCredentials(d);
    expect(await c.get('helped.example')).toBeUndefined();
    await c.store('helped.example', { username: 'hu', password: 'hp' });
    expect(await c.get('helped.example')).toEqual({ username: 'hu', password: 'hp' });
    const cfg = JSON.parse(await readFile(join(d, 'config.json'), 'utf8'));
    expect(cfg.auths).toEqual({ 'helped.example': {} });
    expect(await c.erase('helped.example')).toBe(true);
    expect(await c.get('helped.example')).toBeUndefined();
    const missing = new DockerConfigCredentials(await configDir({ credsStore: 'nosuchhelper' }));
    await expect(missing.get('x.example')).rejects.toMatchObject({ code: 'TB_CREDENTIALS', message: expect.stringContaining('docker-credential-nosuchhelper') });
  });

  test('a corrupt file is an error that quotes none of it', async () => {
    const d = await configDir();
    await writeFile(join(d, 'config.json'), '{"auths": {"x": {"auth": "c2VjcmV0"}} trailing-secret');
    const err = (await new DockerConfigCredentials(d).get('x').then(() => undefined, (e: unknown) => e)) as Error;
    expect(err).toMatchObject({ code: 'TB_CREDENTIALS' });
    expect(err.message).not.toContain('secret');
  });

  test('server names normalise like Docker', () => {
    expect(normalizeServer('https://index.docker.io/v1/')).toBe('docker.io');
    expect(normalizeServer('registry-1.docker.io')).toBe('docker.io');
    expect(normalizeServer('http://127.0.0.1:5000/v2/')).toBe('127.0.0.1:5000');
  });
});

test('WWW-Authenticate challenges', () => {
  expect(parseChallenges('Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push"')).toEqual([
    { scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'reg', scope: 'repository:a/b:pull,push' } },
  ]);
  expect(parseChallenges(['Basic realm="x"', 'Bearer realm="y"']).map((c) => c.scheme)).toEqual(['basic', 'bearer']);
  expect(parseChallenges('Basic realm="with \\"quotes\\""')[0]!.params.realm).toBe('with "quotes"');
});
