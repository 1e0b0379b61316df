import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Docker from 'dockerode';
import { isRoot, mountsUnder, tempDir } from '../support/tmp.js';
import { BUSYBOX_TAR, runCli } from '../support/cli.js';
import { startChildDaemon, type ChildDaemon } from './support/child-daemon.js';
import { docker as dockerCli, hasDocker } from './support/docker.js';

/** Security flags end to end: `tbuild run`, the stock Docker CLI and dockerode against the daemon. */
describe.runIf(isRoot)('security options through tbuild run, docker and dockerode', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let d: ChildDaemon;
  let api: Docker;
  let profile: string;
  const run = (args: string[]) => dockerCli(`unix://${d.socket}`, tmp.path, args);

  beforeAll(async () => {
    tmp = await tempDir('tbsd-');
    d = await startChildDaemon(join(tmp.path, 'daemon'));
    api = new Docker({ socketPath: d.socket });
    await new Promise<void>((resolve, reject) => {
      void api.loadImage(createReadStream(BUSYBOX_TAR)).then((s) => {
        s.resume();
        s.on('end', resolve);
        s.on('error', reject);
      }, reject);
    });
    const local = await runCli(['load', '-i', BUSYBOX_TAR], { root: join(tmp.path, 'local') });
    expect(local.code).toBe(0);
    profile = join(tmp.path, 'no-mkdir.json');
    await writeFile(profile, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] }));
  }, 120_000);

  afterAll(async () => {
    if (d) {
      for (const c of await api.listContainers({ all: true })) await api.getContainer(c.Id).remove({ force: true }).catch(() => {}); // an AutoRemove one may go meanwhile
      expect(await d.stop()).toBe(0);
    }
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  }, 60_000);

  const flagged = [
    '--cap-drop', 'ALL', '--cap-add', 'net_admin', '--security-opt', 'no-new-privileges', '--read-only', '--tmpfs', '/run:size=1m',
    '--init', '--ulimit', 'nofile=100:200', '--shm-size', '2m', '--device', '/dev/null:/dev/n2:rw',
  ];
  const script = 'grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status; touch /x 2>/dev/null || echo ro; df -k /run /dev/shm | awk "NR>1{print \\$2}"; ulimit -n; ls -l /dev/n2 | cut -c1; tr "\\0" " " < /proc/1/cmdline | cut -d" " -f1';
  const expected = 'CapEff:\t0000000000001000\nNoNewPrivs:\t1\nSeccomp:\t2\nro\n1024\n2048\n100\nc\n/sbin/docker-init\n';

  test('tbuild run (embedded)', async () => {
    const root = join(tmp.path, 'local');
    const def = await runCli(['run', '--rm', 'busybox:local', 'unshare', '-U', '-r', 'true'], { root });
    expect(def.code).not.toBe(0);
    expect(def.stderr).toContain('Operation not permitted');
    expect((await runCli(['run', '--rm', '--security-opt', 'seccomp=unconfined', 'busybox:local', 'unshare', '-U', '-r', 'true'], { root })).code).toBe(0);
    const mk = await runCli(['run', '--rm', '--security-opt', `seccomp=${profile}`, 'busybox:local', 'mkdir', '/y'], { root });
    expect(mk.stderr).toContain('Operation not permitted');
    const r = await runCli(['run', '--rm', ...flagged, 'busybox:local', 'sh', '-c', script], { root });
    expect(r.stdout).toBe(expected);
    const p = await runCli(['run', '--rm', '--privileged', 'busybox:local', 'grep', '^Seccomp:', '/proc/self/status'], { root });
    expect(p.stdout).toBe('Seccomp:\t0\n');
    const bad = await runCli(['run', '--rm', '--security-opt', 'apparmor=docker-default', 'busybox:local', 'true'], { root });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('AppArmor profiles are not supported');
  }, 120_000);

  test.runIf(hasDocker)('docker CLI against the daemon', async () => {
    expect((await run(['info', '--format', '{{json .SecurityOptions}}'])).stdout.trim()).toBe('["name=seccomp,profile=builtin"]');
    expect((await run(['run', '--rm', 'busybox:local', 'unshare', '-U', '-r', 'true'])).code).not.toBe(0);
    expect((await run(['run', '--rm', '--security-opt', 'seccomp=unconfined', 'busybox:local', 'unshare', '-U', '-r', 'true'])).code).toBe(0);
    expect((await run(['run', '--rm', '--security-opt', `seccomp=${profile}`, 'busybox:local', 'mkdir', '/y'])).stderr).toContain('Operation not permitted');
    expect((await run(['run', '--rm', ...flagged, 'busybox:local', 'sh', '-c', script])).stdout).toBe(expected);
    const p = await run(['run', '--rm', '--pid', 'host', 'busybox:local', 'true']);
    expect(p.code).toBe(125);
    expect(p.stderr).toContain('HostConfig.PidMode is not supported');
    const label = await run(['run', '--rm', '--security-opt', 'label=disable', 'busybox:local', 'true']);
    expect(label.stderr).toContain('SELinux labels are not supported');
    const c = (await run(['create', '--cap-add', 'SYS_TIME', '--read-only', '--privileged', 'busybox:local', 'true'])).stdout.trim();
    expect((await run(['inspect', '--format', '{{json .HostConfig.CapAdd}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.Privileged}}', c])).stdout.trim()).toBe('["CAP_SYS_TIME"] true true');
    await run(['rm', c]);
  }, 120_000);

  test('dockerode: HostConfig fields are carried out, unknown ones refused', async () => {
    const chunks: Buffer[] = [];
    const out = new Writable({ write: (c, _e, cb) => void (chunks.push(Buffer.from(c)), cb()) });
    const [res] = (await api.run('busybox:local', ['sh', '-c', script], out, {
      Tty: true,
      HostConfig: {
        CapDrop: ['ALL'],
        CapAdd: ['CAP_NET_ADMIN'],
        SecurityOpt: ['no-new-privileges:true'],
        ReadonlyRootfs: true,
        Tmpfs: { '/run': 'size=1m' },
        Init: true,
        Ulimits: [{ Name: 'nofile', Soft: 100, Hard: 200 }],
        ShmSize: 2 * 1024 * 1024,
        Devices: [{ PathOnHost: '/dev/null', PathInContainer: '/dev/n2', CgroupPermissions: 'rw' }],
        AutoRemove: true,
      },
    })) as [{ StatusCode: number }];
    expect(res.StatusCode).toBe(0);
    expect(Buffer.concat(chunks).toString().replace(/\r\n/g, '\n')).toBe(expected);
    await expect(api.createContainer({ Image: 'busybox:local', HostConfig: { CgroupParent: '/x' } })).rejects.toThrow(/HostConfig.CgroupParent is not supported/);
    await expect(api.createContainer({ Image: 'busybox:local', HostConfig: { CapAdd: ['CAP_FLY'] } })).rejects.toThrow(/unknown capability/);
  }, 120_000);
});
