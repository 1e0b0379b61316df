import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { join } from 'node:path';
import { isRoot, mountsUnder, tempDir } from '../support/tmp.js';
import { BUSYBOX_TAR } from '../support/cli.js';
import { freePort, makeCerts } from '../support/certs.js';
import { docker, hasDocker, ttyText } from './support/docker.js';
import { startChildDaemon, type ChildDaemon } from './support/child-daemon.js';

/**
 * Hijacked streams (run, exec, attach; with and without a tty) behave the same over a unix
 * socket and TLS TCP: the client's half-close when its stdin ends closes the process's
 * stdin, never the output still on its way back.
 */
describe.runIf(hasDocker && isRoot)('attach and exec streams over every transport', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let d: ChildDaemon;
  const transports: Array<{ name: string; host: string; env: NodeJS.ProcessEnv }> = [];

  beforeAll(async () => {
    tmp = await tempDir('tbx-');
    await makeCerts(tmp.path);
    const c = (f: string) => join(tmp.path, f);
    const tls = `tcp://127.0.0.1:${await freePort()}`;
    // (plain TCP is node:http's server, as the unix socket is: one path; TLS is node:https's)
    d = await startChildDaemon(tmp.path, ['-H', tls, '--tlsverify', '--tlscacert', c('ca.pem'), '--tlscert', c('server-cert.pem'), '--tlskey', c('server-key.pem')]);
    transports.push({ name: 'unix', host: d.host, env: {} }, { name: 'tls', host: tls, env: { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: tmp.path } });
    expect((await d.docker(['load', '-i', BUSYBOX_TAR])).code).toBe(0);
    expect((await d.docker(['run', '-d', '--name', 'target', 'busybox:local', 'sleep', '600'])).code).toBe(0);
  }, 60_000);

  afterAll(async () => {
    if (d) {
      const ids = (await d.docker(['ps', '-aq'])).stdout.trim().split('\n').filter(Boolean);
      if (ids.length) await d.docker(['rm', '-f', ...ids]);
      expect(await d.stop()).toBe(0);
    }
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  }, 60_000);

  const cli = (t: { host: string; env: NodeJS.ProcessEnv }, args: string[], input?: string) =>
    docker(t.host, join(tmp.path, 'docker-config'), args, { env: t.env, ...(input !== undefined ? { input } : {}) });

  test('run: output, stdin then output, a tty, over unix and TLS TCP', async () => {
    for (const t of transports) {
      expect([t.name, (await cli(t, ['run', '--rm', 'busybox:local', 'echo', 'out'])).stdout]).toEqual([t.name, 'out\n']);
      expect([t.name, (await cli(t, ['run', '--rm', '-i', 'busybox:local', 'sh', '-c', 'cat; sleep 0.3; echo after-eof'], 'typed\n')).stdout]).toEqual([t.name, 'typed\nafter-eof\n']);
      expect([t.name, ttyText((await cli(t, ['run', '--rm', '-t', 'busybox:local', 'echo', 'tty'])).stdout)]).toEqual([t.name, 'tty\r\n']);
      expect([t.name, (await cli(t, ['run', '--rm', 'busybox:local', 'sh', '-c', 'exit 7'])).code]).toEqual([t.name, 7]);
    }
  }, 90_000);

  test('exec: output, stdin then output, a tty, exit status', async () => {
    for (const t of transports) {
      expect([t.name, (await cli(t, ['exec', 'target', 'echo', 'out'])).stdout]).toEqual([t.name, 'out\n']);
      expect([t.name, (await cli(t, ['exec', '-i', 'target', 'sh', '-c', 'cat; sleep 0.3; echo after-eof'], 'typed\n')).stdout]).toEqual([t.name, 'typed\nafter-eof\n']);
      expect([t.name, ttyText((await cli(t, ['exec', '-t', 'target', 'echo', 'tty'])).stdout)]).toEqual([t.name, 'tty\r\n']);
      expect([t.name, (await cli(t, ['exec', 'target', 'sh', '-c', 'exit 5'])).code]).toEqual([t.name, 5]);
    }
  }, 90_000);

  test('attach to a running container: its later output and exit status', async () => {
    for (const t of transports) {
      const name = `late-${t.name}`;
      expect((await cli(t, ['run', '-d', '--name', name, 'busybox:local', 'sh', '-c', 'sleep 1; echo late; exit 3'])).code).toBe(0);
      const a = await cli(t, ['attach', name]);
      expect([t.name, a.stdout, a.code]).toEqual([t.name, 'late\n', 3]);
    }
  }, 90_000);
});
