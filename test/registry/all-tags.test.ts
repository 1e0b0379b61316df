import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isRoot, mountsUnder, tempDir } from '../support/tmp.js';
import { runCli } from '../support/cli.js';
import { hasDocker } from '../daemon/support/docker.js';
import { startChildDaemon, type ChildDaemon } from '../daemon/support/child-daemon.js';
import { makeTestArchive, run, startRegistry, type TestRegistry } from '../support/registry.js';

/**
 * `docker pull -a` / `tbuild pull -a`: every tag of a repository, from the registry's tag list. A
 * tag that cannot be pulled here (an index without this machine's platform) is reported and the
 * others still come, as dockerd does.
 */
describe.runIf(isRoot)('pull every tag of a repository', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let reg: TestRegistry;
  let repo: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    tmp = await tempDir('tb-alltags-');
    const archive = await makeTestArchive(tmp.path);
    reg = await startRegistry('plain');
    repo = `${reg.host}/all/tags`;
    for (const tag of ['1', '2']) {
      const copied = await run('skopeo', ['copy', '-q', ...reg.skopeoFlags('dest'), `docker-archive:${archive.file}`, `docker://${repo}:${tag}`]);
      expect(copied.stderr).toBe('');
    }
    // `arm`: an index whose only image is for linux/arm64, which this machine does not pull
    const got = await fetch(`http://${reg.host}/v2/all/tags/manifests/1`, { method: 'HEAD', headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' } });
    const index = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{ mediaType: got.headers.get('content-type'), digest: got.headers.get('docker-content-digest'), size: Number(got.headers.get('content-length')), platform: { architecture: 'arm64', os: 'linux' } }],
    };
    const put = await fetch(`http://${reg.host}/v2/all/tags/manifests/arm`, { method: 'PUT', headers: { 'content-type': index.mediaType }, body: JSON.stringify(index) });
    expect(put.status).toBe(201);
    const config = join(tmp.path, 'docker-config');
    await mkdir(config);
    env = { DOCKER_CONFIG: config, TBUILD_HOST: '' };
  }, 120_000);

  afterAll(async () => {
    await reg?.stop();
    if (tmp) {
      expect(await mountsUnder(tmp.path)).toEqual([]);
      await tmp.cleanup();
    }
  });

  test('tbuild pull -a pulls every tag, reports the one it cannot, and is up to date the second time', async () => {
    const pulled = await runCli(['pull', '-a', repo], { env });
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(pulled.stdout).toContain('1: Pulling from all/tags');
    expect(pulled.stdout).toContain('2: Pulling from all/tags');
    expect(pulled.stdout).toMatch(/arm: Error pulling tag arm: .*linux\/amd64/);
    expect(pulled.stdout).toContain(`Status: Downloaded newer image for ${repo}\n`);
    expect(pulled.stdout.match(/Status: /g)).toHaveLength(1);
    expect(pulled.stdout.trimEnd().split('\n').pop()).toBe(repo);
    expect(pulled.stderr).toMatch(new RegExp(`warning: ${repo}:arm was not pulled: .*linux/amd64`));
    const listed = await runCli(['images', '--format', '{{.Repository}}:{{.Tag}}', repo], { env });
    expect(listed.stdout.trim().split('\n').sort()).toEqual([`${repo}:1`, `${repo}:2`]);
    const content = await runCli(['run', '--rm', `${repo}:2`, 'cat', '/hello.txt'], { env });
    expect(content.stdout).toBe('hello from the registry test\n');

    const again = await runCli(['pull', '-a', repo], { env });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`Status: Image is up to date for ${repo}\n`);
  }, 120_000);

  test('a tag or digest with -a, and a repository the registry does not have, are errors', async () => {
    const tagged = await runCli(['pull', '-a', `${repo}:1`], { env });
    expect(tagged.code).not.toBe(0);
    expect(tagged.stderr).toContain("tag can't be used with --all-tags/-a");
    const missing = await runCli(['pull', '-a', `${reg.host}/not/here`], { env });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/repository .*not\/here not found/);
  });

  describe.runIf(hasDocker)('through tbuild daemon', () => {
    let d: ChildDaemon;
    beforeAll(async () => {
      d = await startChildDaemon(tmp.path, []);
    }, 60_000);
    afterAll(async () => {
      if (d) expect(await d.stop()).toBe(0);
    });

    test('docker pull -a, and tbuild -H pull -a', async () => {
      const pulled = await d.docker(['pull', '-a', repo]);
      expect(pulled.code, pulled.stderr).toBe(0);
      expect(pulled.stdout).toContain('1: Pulling from all/tags');
      expect(pulled.stdout).toContain('2: Pulling from all/tags');
      expect(pulled.stdout).toContain(`Status: Downloaded newer image for ${repo}`);
      expect(pulled.stdout.trimEnd().split('\n').pop()).toBe(repo);
      const listed = await d.docker(['images', '--format', '{{.Repository}}:{{.Tag}}', repo]);
      expect(listed.stdout.trim().split('\n').sort()).toEqual([`${repo}:1`, `${repo}:2`]);

      const viaCli = await runCli(['pull', '-a', repo], { env: { ...env, TBUILD_HOST: d.host } });
      expect(viaCli.code, viaCli.stderr).toBe(0);
      expect(viaCli.stdout).toContain(`Status: Image is up to date for ${repo}`);
      expect(viaCli.stderr).toMatch(new RegExp(`warning: ${repo}:arm was not pulled`));
    }, 120_000);
  });
});
