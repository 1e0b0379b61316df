import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { runCli } from '../support/cli.js';
import { join } from 'node:path';
import { isRoot, mountsUnder, tempDir } from '../support/tmp.js';
import { hasDocker } from '../daemon/support/docker.js';
import { startChildDaemon, type ChildDaemon } from '../daemon/support/child-daemon.js';
import { makeTestArchive, run, startRegistry, TEST_USER, type TestRegistry } from '../support/registry.js';

/**
 * The stock Docker CLI through `tbuild daemon` against a TLS + htpasswd docker-registry: login
 * (POST /auth), pull (POST /images/create?fromImage=), push (POST /images/{name}/push) with the
 * credentials the CLI sends in X-Registry-Auth, and `docker run` of an absent image.
 */
describe.runIf(hasDocker && isRoot)('docker CLI pull/push/login through tbuild daemon', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let reg: TestRegistry;
  let d: ChildDaemon;
  let src: string;

  beforeAll(async () => {
    tmp = await tempDir('tb-regd-');
    const archive = await makeTestArchive(tmp.path);
    reg = await startRegistry('tls-basic');
    src = `${reg.host}/test/busybox:1`;
    const copied = await run('skopeo', ['copy', '-q', ...reg.skopeoFlags('dest'), `docker-archive:${archive.file}`, `docker://${src}`]);
    expect(copied.stderr).toBe('');
    // The daemon's own config.json is empty: credentials must come from the CLI.
    const daemonConfig = join(tmp.path, 'daemon-docker-config');
    await mkdir(daemonConfig);
    d = await startChildDaemon(tmp.path, [], { DOCKER_CONFIG: daemonConfig, TBUILD_REGISTRY_CERTS_DIR: reg.certsDir });
  }, 120_000);

  afterAll(async () => {
    if (d) {
      const ids = (await d.docker(['ps', '-aq'])).stdout.trim().split('\n').filter(Boolean);
      if (ids.length) await d.docker(['rm', '-f', ...ids]);
      expect(await d.stop()).toBe(0);
    }
    await reg?.stop();
    if (tmp) {
      expect(await mountsUnder(tmp.path)).toEqual([]);
      await tmp.cleanup();
    }
  });

  test('login, pull, run, push; wrong credentials are refused without echoing them', async () => {
    const denied = await d.docker(['pull', src]);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/unauthorized/);

    const bad = await d.docker(['login', '-u', TEST_USER.username, '--password-stdin', reg.host], { input: 'not-the-password-42' });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/unauthorized/);
    expect(bad.stderr + bad.stdout).not.toContain('not-the-password-42');
    expect(d.log()).not.toContain('not-the-password-42');

    const login = await d.docker(['login', '-u', TEST_USER.username, '--password-stdin', reg.host], { input: TEST_USER.password });
    expect(login.stdout).toContain('Login Succeeded');

    const pulled = await d.docker(['pull', src]);
    expect(pulled.stderr).toBe('');
    expect(pulled.code).toBe(0);
    expect(pulled.stdout).toContain('1: Pulling from test/busybox');
    expect(pulled.stdout).toContain('Pull complete');
    expect(pulled.stdout).toMatch(/Digest: sha256:[0-9a-f]{64}/);
    expect(pulled.stdout).toContain(`Status: Downloaded newer image for ${src}`);
    expect(pulled.stdout.trimEnd().split('\n').pop()).toBe(src);
    expect((await d.docker(['pull', src])).stdout).toContain('Status: Image is up to date');
    // --platform of an image that is no index: dockerd keeps it, and the pull fails naming both
    const foreign = await d.docker(['pull', '--platform', 'linux/arm64', src]);
    expect(foreign.code).toBe(1);
    expect(foreign.stderr).toContain(`image with reference ${src} was found but does not match the specified platform: wanted linux/arm64, actual: linux/amd64`);
    expect((await d.docker(['image', 'inspect', '-f', '{{.Architecture}}', src])).stdout.trim()).toBe('amd64');


    const dst = `${reg.host}/pushed/through-daemon:v2`;
    expect((await d.docker(['tag', src, dst])).code).toBe(0);
    const pushed = await d.docker(['push', dst]);
    expect(pushed.stderr).toBe('');
    expect(pushed.code).toBe(0);
    expect(pushed.stdout).toContain(`The push refers to repository [${reg.host}/pushed/through-daemon]`);
    const m = /v2: digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(pushed.stdout);
    expect(m).not.toBeNull();
    const inspected = await run('skopeo', ['inspect', `--cert-dir=${join(reg.certsDir, reg.host)}`, `--creds=${TEST_USER.username}:${TEST_USER.password}`, `docker://${dst}`]);
    expect(JSON.parse(inspected.stdout)).toMatchObject({ Digest: m![1] });

    // docker run of an image that is not here: the CLI pulls it on the 404 and runs it.
    const other = `${reg.host}/pushed/through-daemon:v2`;
    expect((await d.docker(['rmi', other, src])).code).toBe(0);
    const ran = await d.docker(['run', '--rm', other, 'cat', '/hello.txt']);
    expect(ran.stdout).toBe('hello from the registry test\n');
    expect(ran.stderr).toContain(`Unable to find image '${other}' locally`);
  });

  test('remote cache through the daemon: tbuild -H exports with the login, the classic `docker build --cache-from` imports', async () => {
    // logged in by the first test: both CLIs send the credentials of this config
    const env = { DOCKER_CONFIG: join(tmp.path, 'docker-config'), TBUILD_HOST: d.host };
    const context = join(tmp.path, 'cache-ctx');
    await mkdir(context, { recursive: true });
    await writeFile(join(context, 'Dockerfile'), `FROM ${src}\nRUN od -An -N8 -tx1 /dev/urandom > /at\n`);
    const ref = `${reg.host}/cache/through-daemon:max`;
    const name = `${reg.host}/cache/inline:1`;
    const built = await runCli(['build', '--cache-to', `type=registry,ref=${ref},mode=max`, '--cache-to', 'type=inline', '--push', '-t', name, context], { env });
    expect(built.code, built.stderr).toBe(0);
    const at = (await d.docker(['run', '--rm', name, 'cat', '/at'])).stdout;
    expect(at).toMatch(/^( [0-9a-f]{2}){8}\n$/);
    // forget everything the build left here
    expect((await d.docker(['rmi', name])).code).toBe(0);
    expect((await d.docker(['builder', 'prune', '-af'])).code).toBe(0);
    for (const from of [ref, name]) {
      const again = await d.docker(['build', '--cache-from', from, '-t', 'cached:1', context], { env: { DOCKER_BUILDKIT: '0' } });
      expect(again.code, again.stderr).toBe(0);
      expect((await d.docker(['run', '--rm', 'cached:1', 'cat', '/at'])).stdout).toBe(at);
      expect((await d.docker(['rmi', 'cached:1'])).code).toBe(0);
      expect((await d.docker(['builder', 'prune', '-af'])).code).toBe(0);
    }
    // a local directory is the daemon's own filesystem: refused by name
    const local = await runCli(['build', '--cache-to', `type=local,dest=${join(tmp.path, 'x')}`, context], { env });
    expect(local.code).not.toBe(0);
    expect(local.stderr).toMatch(/--cache-to type=local is not supported through a daemon/);
  }, 180_000);

  test('unknown images and unreachable registries are errors naming them', async () => {
    const missing = await d.docker(['pull', `${reg.host}/test/busybox:nope`]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/test\/busybox:nope.*not found/);
    const down = await d.docker(['pull', '127.0.0.1:1/x/y:1']);
    expect(down.code).not.toBe(0);
    expect(down.stderr).toContain('127.0.0.1:1');
  });
});
