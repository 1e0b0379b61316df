import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, mountsUnder } from '../support/tmp.js';
import { runCli } from '../support/cli.js';
import { makeTestArchive, run, startRegistry, TEST_USER, type TestRegistry } from '../support/registry.js';

/**
 * tbuild pull/push/login/logout against a real docker-registry in its three forms, with skopeo as
 * the independent client on the other side.
 */

let dir: { path: string; cleanup: () => Promise<void> };
let archive: { file: string; name: string };

beforeAll(async () => {
  dir = await tempDir('tb-regcli-');
  archive = await makeTestArchive(dir.path);
}, 120_000);
afterAll(async () => {
  expect(await mountsUnder(dir.path)).toEqual([]);
  await dir.cleanup();
});

describe.each(['plain', 'tls-basic', 'token'] as const)('%s registry', (kind) => {
  let reg: TestRegistry;
  let n = 0;
  beforeAll(async () => {
    reg = await startRegistry(kind);
  });
  afterAll(async () => {
    await reg?.stop();
  });

  async function env(): Promise<NodeJS.ProcessEnv> {
    const d = join(dir.path, `docker-config-${kind}-${n++}`);
    await mkdir(d, { recursive: true });
    return { DOCKER_CONFIG: d, TBUILD_REGISTRY_CERTS_DIR: reg.certsDir, TBUILD_HOST: '' };
  }

  test('skopeo pushes, tbuild pulls and runs; tbuild pushes, skopeo reads it back', async () => {
    const e = await env();
    const root = join(dir.path, `root-${kind}`);
    const cli = (args: string[], input?: string) => runCli(args, { root, env: e, ...(input !== undefined ? { input } : {}) });
    const src = `${reg.host}/test/busybox:1`;
    const copied = await run('skopeo', ['copy', '-q', ...reg.skopeoFlags('dest'), `docker-archive:${archive.file}`, `docker://${src}`]);
    expect(copied.stderr).toBe('');
    const { stdout: rawManifest } = await run('skopeo', ['inspect', '--raw', ...reg.skopeoFlags('src').map((f) => f.replace('--src-', '--')), `docker://${src}`]);
    const manifest = JSON.parse(rawManifest) as { layers: Array<{ digest: string }> };
    expect(manifest.layers).toHaveLength(2);

    let pulled: Awaited<ReturnType<typeof cli>> | undefined;
    if (reg.user) {
      const first = await cli(['pull', src]);
      if (kind === 'tls-basic') {
        expect(first.code).not.toBe(0);
        expect(first.stderr).toMatch(/unauthorized/);
      } else {
        // The token issuer grants pull to anonymous callers, as Docker Hub does.
        expect(first.code).toBe(0);
        pulled = first;
      }
      const bad = await cli(['login', '-u', TEST_USER.username, '--password-stdin', reg.host], 'wrong-password-123');
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(/unauthorized/);
      expect(bad.stderr + bad.stdout).not.toContain('wrong-password-123');
      const ok = await cli(['login', '-u', TEST_USER.username, '--password-stdin', reg.host], TEST_USER.password);
      expect(ok).toMatchObject({ code: 0, stdout: 'Login Succeeded\n' });
      const cfg = JSON.parse(await readFile(join(e.DOCKER_CONFIG!, 'config.json'), 'utf8')) as { auths: Record<string, { auth: string }> };
      expect(Buffer.from(cfg.auths[reg.host]!.auth, 'base64').toString()).toBe(`${TEST_USER.username}:${TEST_USER.password}`);
    }

    pulled ??= await cli(['pull', src]);
    expect(pulled.stderr).toBe('');
    expect(pulled.code).toBe(0);
    expect(pulled.stdout).toContain('1: Pulling from test/busybox');
    expect(pulled.stdout).toContain(`${manifest.layers[0]!.digest.slice(7, 19)}: Pull complete`);
    expect(pulled.stdout).toMatch(/Digest: sha256:[0-9a-f]{64}\n/);
    expect(pulled.stdout.trimEnd().split('\n').pop()).toBe(src);
    const inspect = JSON.parse((await cli(['inspect', src])).stdout) as Array<{ RepoDigests: string[]; RootFS: { Layers: string[] } }>;
    expect(inspect[0]!.RootFS.Layers).toHaveLength(2);
    expect(inspect[0]!.RepoDigests[0]).toMatch(new RegExp(`^${reg.host}/test/busybox@sha256:`));
    const again = await cli(['pull', src]);
    expect(again.stdout).toContain('Status: Image is up to date');
    const foreign = await cli(['pull', '--platform', 'linux/arm64', src]);
    expect(foreign.code).not.toBe(0);
    expect(foreign.stderr).toContain('was found but does not match the specified platform: wanted linux/arm64, actual: linux/amd64');

    const ran = await cli(['run', '--rm', src, 'cat', '/hello.txt']);
    expect(ran).toMatchObject({ code: 0, stdout: 'hello from the registry test\n' });

    const dst = `${reg.host}/pushed/by-tbuild:v1`;
    expect((await cli(['tag', src, dst])).code).toBe(0);
    const pushed = await cli(['push', dst]);
    expect(pushed.stderr).toBe('');
    expect(pushed.code).toBe(0);
    expect(pushed.stdout).toContain(`The push refers to repository [${reg.host}/pushed/by-tbuild]`);
    const m = /v1: digest: (sha256:[0-9a-f]{64}) size: (\d+)/.exec(pushed.stdout);
    expect(m).not.toBeNull();
    const inspected = await run('skopeo', ['inspect', ...reg.skopeoFlags('src').map((f) => f.replace('--src-', '--')), `docker://${dst}`]);
    expect(inspected.stderr).toBe('');
    expect(JSON.parse(inspected.stdout)).toMatchObject({ Digest: m![1], Layers: expect.any(Array) });
    const out = join(dir.path, `skopeo-out-${kind}`);
    const back = await run('skopeo', ['copy', '-q', ...reg.skopeoFlags('src'), `docker://${dst}`, `dir:${out}`]);
    expect(back.stderr).toBe('');
    expect(JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8'))).toMatchObject({ layers: [{}, {}] });

    // The second push has nothing to upload.
    const again2 = await cli(['push', dst]);
    expect(again2.stdout).toMatch(/Layer already exists/);
    expect(again2.stdout).toContain(`v1: digest: ${m![1]}`);

    if (kind === 'plain') {
      // run of an image that is not stored pulls it first (progress on stderr), as Docker does.
      const fresh = await runCli(['run', '--rm', dst, 'cat', '/hello.txt'], { root: join(dir.path, 'root-run'), env: e });
      expect(fresh).toMatchObject({ code: 0, stdout: 'hello from the registry test\n' });
      expect(fresh.stderr).toContain(`Unable to find image '${dst}' locally`);
      expect(fresh.stderr).toContain('Pull complete');
    }

    if (reg.user) {
      expect((await cli(['logout', reg.host])).stdout).toBe(`Removing login credentials for ${reg.host}\n`);
      expect((await cli(['logout', reg.host])).stdout).toBe(`Not logged in to ${reg.host}\n`);
      const anonymous = await cli(['push', dst]);
      expect(anonymous.code).not.toBe(0);
      expect(anonymous.stderr).toMatch(/unauthorized/);
    }
  });
});

test('a corrupt config.json is an error that quotes nothing of it', async () => {
  const d = join(dir.path, 'corrupt-config');
  await mkdir(d, { recursive: true });
  await writeFile(join(d, 'config.json'), '{"auths": {"x": {"auth": "c2VjcmV0LXZhbHVl"}} oops-secret-value');
  const res = await runCli(['login', '-u', 'u', '--password-stdin', '127.0.0.1:1'], { root: join(dir.path, 'root-corrupt'), env: { DOCKER_CONFIG: d }, input: 'pw' });
  expect(res.code).not.toBe(0);
  expect(res.stderr).not.toContain('secret');
});
