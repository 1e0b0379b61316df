import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isRoot, mountsUnder, tempDir } from '../../support/tmp.js';
import { BUSYBOX_TAR, runCli } from '../../support/cli.js';
import { startChildDaemon, type ChildDaemon } from '../../daemon/support/child-daemon.js';

/**
 * RUN --security=insecure needs the security.insecure entitlement, from the build and (remote) the
 * daemon; RUN --network=host needs network.host from the build (a daemon allows it by default).
 */
describe.runIf(isRoot)('entitlements', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let ctxDir: string;
  let hostNetDir: string;
  const daemons: ChildDaemon[] = [];

  beforeAll(async () => {
    tmp = await tempDir('tbent-');
    ctxDir = join(tmp.path, 'ctx');
    await mkdir(ctxDir);
    await writeFile(
      join(ctxDir, 'Dockerfile'),
      'FROM busybox:local\nRUN --security=insecure grep -E "^(Seccomp|CapEff):" /proc/self/status > /status\nRUN cat /status\n',
    );
    hostNetDir = join(tmp.path, 'hostnet');
    await mkdir(hostNetDir);
    // the host's network shows the host's own interfaces (a sandbox has lo and one eth0 at most)
    await writeFile(join(hostNetDir, 'Dockerfile'), 'FROM busybox:local\nRUN --network=host echo links=$(ip -o link | wc -l)\n');
  }, 60_000);

  afterAll(async () => {
    for (const d of daemons) expect(await d.stop()).toBe(0);
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  }, 60_000);

  test('embedded: refused without --allow, privileged with it', async () => {
    const root = join(tmp.path, 'local');
    expect((await runCli(['load', '-i', BUSYBOX_TAR], { root })).code).toBe(0);
    const denied = await runCli(['build', '--progress', 'plain', ctxDir], { root });
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain('granting entitlement security.insecure is not allowed');
    expect(denied.stderr).toContain('--allow security.insecure');
    const ok = await runCli(['build', '--progress', 'plain', '--allow', 'security.insecure', ctxDir], { root });
    expect(ok.code).toBe(0);
    expect(ok.stderr).toContain('Seccomp:\t0');
    expect(ok.stderr).not.toMatch(/CapEff:\t00000000a80425fb/);
    const bad = await runCli(['build', '--allow', 'device', ctxDir], { root });
    expect(bad.stderr).toContain('invalid entitlement: device');
  }, 180_000);

  test('RUN --network=host: refused without network.host; --allow network.host or --network host grant it', async () => {
    const root = join(tmp.path, 'hostnet-root');
    expect((await runCli(['load', '-i', BUSYBOX_TAR], { root })).code).toBe(0);
    const hostLinks = (await import('node:child_process')).execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' }).trim().split('\n').length;
    const denied = await runCli(['build', '--progress', 'plain', hostNetDir], { root });
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain('granting entitlement network.host is not allowed by the build request');
    expect(denied.stderr).toContain('--allow network.host');
    for (const flags of [['--allow', 'network.host'], ['--network', 'host']]) {
      const ok = await runCli(['build', '--progress', 'plain', '--no-cache', ...flags, hostNetDir], { root });
      expect(ok.code, ok.stderr).toBe(0);
      const links = Number(/links=(\d+)/.exec(ok.stderr)?.[1]);
      expect(links, flags.join(' ')).toBeGreaterThan(2);
      expect(Math.abs(links - hostLinks)).toBeLessThan(20);
    }
  }, 180_000);

  test('daemon: the build must ask and the daemon must allow', async () => {
    const plain = await startChildDaemon(join(tmp.path, 'd1'));
    daemons.push(plain);
    const host = `unix://${plain.socket}`;
    expect((await runCli(['-H', host, 'load', '-i', BUSYBOX_TAR])).code).toBe(0);
    const refused = await runCli(['-H', host, 'build', '--allow', 'security.insecure', ctxDir]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('--allow-insecure-entitlement security.insecure');
    // network.host: the daemon allows it, the build must still ask
    const hostNet = await runCli(['-H', host, 'build', '--progress', 'plain', hostNetDir]);
    expect(hostNet.stderr).toContain('granting entitlement network.host is not allowed by the build request');
    const hostNetOk = await runCli(['-H', host, 'build', '--progress', 'plain', '--allow', 'network.host', hostNetDir]);
    expect(hostNetOk.code, hostNetOk.stderr).toBe(0);
    expect(Number(/links=(\d+)/.exec(hostNetOk.stderr)?.[1])).toBeGreaterThan(2);

    const allowing = await startChildDaemon(join(tmp.path, 'd2'), ['--allow-insecure-entitlement', 'security.insecure']);
    daemons.push(allowing);
    const host2 = `unix://${allowing.socket}`;
    expect((await runCli(['-H', host2, 'load', '-i', BUSYBOX_TAR])).code).toBe(0);
    const notAsked = await runCli(['-H', host2, 'build', ctxDir]);
    expect(notAsked.stderr).toContain('granting entitlement security.insecure is not allowed by the build request');
    const ok = await runCli(['-H', host2, 'build', '--progress', 'plain', '--allow', 'security.insecure', ctxDir]);
    expect(ok.code).toBe(0);
    expect(ok.stderr).toContain('Seccomp:\t0');
  }, 180_000);
});
