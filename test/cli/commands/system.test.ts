import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BUSYBOX_TAR, runCli } from '../../support/cli.js';
import { isRoot, tempDir } from '../../support/tmp.js';
import { startDaemon, type TestDaemon } from '../remote/daemon.js';

describe.runIf(isRoot)('info, system, settings file and Docker second names', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let root: string;
  const env = { TBUILD_HOST: '', TBUILD_CONFIG: '', TBUILD_INSECURE_REGISTRIES: '' };

  beforeAll(async () => {
    tmp = await tempDir('tb-sys-');
    root = join(tmp.path, 'root');
    const loaded = await runCli(['load', '-i', BUSYBOX_TAR], { root, env });
    expect(loaded.code, loaded.stderr).toBe(0);
  });
  afterAll(async () => {
    await tmp?.cleanup();
  });

  test('info: counts, storage, runtime, and a Go template over the same fields', async () => {
    const r = await runCli(['info'], { root, env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Client:\n Version: \S+\n Context: embedded engine/);
    expect(r.stdout).toMatch(/\n Images: 1\n/);
    expect(r.stdout).toMatch(/\n Storage Driver: overlay2\n  Backing Filesystem: \S+\n/);
    expect(r.stdout).toMatch(/\n runc version: \d+\.\d+/);
    expect(r.stdout).toContain(`\n Docker Root Dir: ${root}\n`);
    const t = await runCli(['info', '--format', '{{.Images}} {{.Driver}} {{.DockerRootDir}} {{index .Settings "root"}}'], { root, env });
    expect(t).toMatchObject({ code: 0, stdout: `1 overlay2 ${root} flag\n` });
    const j = await runCli(['system', 'info', '--format', 'json'], { root, env });
    expect(JSON.parse(j.stdout)).toMatchObject({ Images: 1, OSType: 'linux', NetworkBackend: 'netavark' });
  });

  test('settings file < environment < flag, and info says where each came from', async () => {
    const file = join(tmp.path, 'daemon.json');
    const fileRoot = join(tmp.path, 'file-root');
    await writeFile(file, JSON.stringify({ 'data-root': fileRoot, 'insecure-registries': ['file.example:5000'] }));
    const fmt = '{{.DockerRootDir}}|{{json .RegistryConfig.InsecureRegistries}}|{{index .Settings "root"}}|{{index .Settings "insecure-registries"}}';
    const fromFile = await runCli(['info', '--format', fmt], { env: { ...env, TBUILD_CONFIG: file, TBUILD_ROOT: '' } });
    expect(fromFile.stdout).toBe(`${fileRoot}|["file.example:5000"]|file ${file}|file ${file}\n`);
    // where the Docker CLI reads a host's insecure registries from
    const index = await runCli(['info', '--format', '{{json .RegistryConfig.IndexConfigs}}'], { env: { ...env, TBUILD_CONFIG: file, TBUILD_ROOT: '' } });
    expect(JSON.parse(index.stdout)).toMatchObject({ 'docker.io': { Secure: true, Official: true }, 'file.example:5000': { Name: 'file.example:5000', Secure: false, Official: false } });
    const fromEnv = await runCli(['info', '--format', fmt], {
      env: { ...env, TBUILD_CONFIG: file, TBUILD_ROOT: join(tmp.path, 'env-root'), TBUILD_INSECURE_REGISTRIES: 'env.example' },
    });
    expect(fromEnv.stdout).toBe(`${join(tmp.path, 'env-root')}|["env.example"]|env TBUILD_ROOT|env TBUILD_INSECURE_REGISTRIES\n`);
    const fromFlag = await runCli(['info', '--format', fmt], { root, env: { ...env, TBUILD_CONFIG: file, TBUILD_ROOT: join(tmp.path, 'env-root') } });
    expect(fromFlag.stdout).toBe(`${root}|["file.example:5000"]|flag|file ${file}\n`);

    await writeFile(file, JSON.stringify({ 'data-root': fileRoot, 'log-level': 'debug' }));
    const bad = await runCli(['images'], { root, env: { ...env, TBUILD_CONFIG: file } });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain(`${file}: "log-level" is not a known setting`);
    const missing = await runCli(['images'], { root, env: { ...env, TBUILD_CONFIG: join(tmp.path, 'nope.json') } });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('cannot read settings file');
  });

  test("Docker's second names: image save/load, container inspect, system df and prune", async () => {
    const tar = join(tmp.path, 'bb.tar');
    const save = await runCli(['image', 'save', '-o', tar, 'busybox:local'], { root, env });
    expect(save.code, save.stderr).toBe(0);
    const other = join(tmp.path, 'other-root');
    const load = await runCli(['image', 'load', '-i', tar], { root: other, env });
    expect(load).toMatchObject({ code: 0, stdout: 'Loaded image: busybox:local\n' });
    // `container inspect` looks for containers only, even where an image has the name.
    const ci = await runCli(['container', 'inspect', 'busybox:local'], { root, env });
    expect(ci.code).toBe(1);
    expect(ci.stderr).toContain('No such container: busybox:local');
    const df = await runCli(['system', 'df'], { root, env });
    expect(df.stdout).toMatch(/^TYPE +TOTAL +ACTIVE +SIZE +RECLAIMABLE\nImages +1 /);
    // -v: every item in Docker's four tables
    const ctr = await runCli(['run', '-d', '--name', 'dfv', '--network', 'none', 'busybox:local', 'sleep', '30'], { root, env });
    expect(ctr.code, ctr.stderr).toBe(0);
    const v = await runCli(['system', 'df', '-v'], { root, env });
    expect((await runCli(['rm', '-f', 'dfv'], { root, env })).code).toBe(0);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toMatch(/^Images space usage:\n\nREPOSITORY +TAG +IMAGE ID +CREATED +SIZE +SHARED SIZE +UNIQUE SIZE +CONTAINERS\nbusybox +local +[0-9a-f]{12} +.+ago +\S+ +\S+ +\S+ +1\n/);
    expect(v.stdout).toMatch(/\nContainers space usage:\n\nCONTAINER ID +IMAGE +COMMAND +LOCAL VOLUMES +SIZE +CREATED +STATUS +NAMES\n[0-9a-f]{12} +busybox:local +"sleep 30" +0 +\S+ +.+ago +Up .+ +dfv\n/);
    expect(v.stdout).toMatch(/\nLocal Volumes space usage:\n\nVOLUME NAME +LINKS +SIZE\n/);
    expect(v.stdout).toMatch(/\nBuild cache usage: \S+\n\nCACHE ID +CACHE TYPE +SIZE +CREATED +LAST USED +USAGE +SHARED\n/);
    const tpl = await runCli(['system', 'df', '-v', '--format', '{{.Type}}'], { root, env });
    expect(tpl.code).not.toBe(0);
    expect(tpl.stderr).toContain('system df -v --format "{{.Type}}" is not supported by tbuild (table or json)');
    expect((await runCli(['system', 'df', '--format', '{{.Type}}={{.TotalCount}}'], { root, env })).stdout).toBe('Images=1\nContainers=0\nLocal Volumes=0\nBuild Cache=0\n');
    expect((await runCli(['system', 'df', '--format', 'table {{.Type}}\t{{.Active}}'], { root, env })).stdout).toBe(
      'TYPE            ACTIVE\nImages          0\nContainers      0\nLocal Volumes   0\nBuild Cache     0\n',
    );
    expect((await runCli(['volume', 'create', '--label', 'a=b', 'fmtvol'], { root, env })).code).toBe(0);
    expect((await runCli(['volume', 'inspect', '--format', '{{.Name}} {{.Labels.a}} {{.Driver}}', 'fmtvol'], { root, env })).stdout).toBe('fmtvol b local\n');
    expect((await runCli(['volume', 'rm', 'fmtvol'], { root, env })).code).toBe(0);
    const prune = await runCli(['system', 'prune', '-f'], { root, env });
    expect(prune.code, prune.stderr).toBe(0);
    expect(prune.stdout).toMatch(/Total reclaimed space: \S+\n$/);
    const kept = await runCli(['images', '--format', '{{.Repository}}:{{.Tag}}'], { root, env });
    expect(kept.stdout).toBe('busybox:local\n');
    const events = await runCli(['events'], { root, env });
    expect(events.code).not.toBe(0);
    expect(events.stderr).toContain('events come from a daemon');
  });

  describe('through a daemon', () => {
    let daemon: TestDaemon;
    beforeAll(async () => {
      daemon = await startDaemon(join(tmp.path, 'd'));
    });
    afterAll(async () => {
      await daemon?.stop();
    });

    test('info comes from the daemon; events stream with filters, --until and a template', async () => {
      const info = await runCli(['-H', daemon.host, 'info', '--format', '{{.DockerRootDir}} {{.Images}}'], { env });
      expect(info).toMatchObject({ code: 0, stdout: `${daemon.root} 0\n` });
      // the daemon's own settings are in Settings too, with where they came from
      expect((await runCli(['-H', daemon.host, 'info', '--format', '{{index .Settings "hosts"}}|{{index .Settings "tls"}}'], { env })).stdout).toBe('flag|default\n');
      const since = Math.floor(Date.now() / 1000) - 1;
      const vol = await runCli(['-H', daemon.host, 'volume', 'create', 'evvol'], { env });
      expect(vol.code, vol.stderr).toBe(0);
      const until = String(Math.floor(Date.now() / 1000) + 1);
      const ev = await runCli(
        ['-H', daemon.host, 'events', '--since', String(since), '--until', until, '--filter', 'type=volume', '--format', '{{.Type}} {{.Action}} {{.Actor.ID}}'],
        { env },
      );
      expect(ev.code, ev.stderr).toBe(0);
      expect(ev.stdout).toContain('volume create evvol\n');
    });

    test("container events carry the container's labels; templates see Docker's field names, {{json .}} its JSON", async () => {
      expect((await runCli(['-H', daemon.host, 'load', '-i', BUSYBOX_TAR], { env })).code).toBe(0);
      const since = String(Math.floor(Date.now() / 1000) - 1);
      const made = await runCli(['-H', daemon.host, 'create', '--name', 'evc', '--label', 'tier=x', '--network', 'none', 'busybox:local', 'true'], { env });
      expect(made.code, made.stderr).toBe(0);
      const id = made.stdout.trim();
      const until = String(Math.floor(Date.now() / 1000) + 1);
      const ev = (format: string, ...filter: string[]) => runCli(['-H', daemon.host, 'events', '--since', since, '--until', until, ...filter, '--format', format], { env });
      expect((await ev('{{.Status}} {{.ID}} {{.From}} {{.Actor.Attributes.name}}', '--filter', 'label=tier=x')).stdout).toBe(`create ${id} busybox:local evc\n`);
      expect((await ev('{{.Type}}', '--filter', 'label=tier=y')).stdout).toBe('');
      const json = JSON.parse((await ev('{{json .}}', '--filter', 'container=evc')).stdout) as Record<string, unknown>;
      expect(json).toMatchObject({ status: 'create', id, Type: 'container', Action: 'create', Actor: { ID: id, Attributes: { tier: 'x', name: 'evc' } } });
      expect(json).not.toHaveProperty('Status');
      expect((await runCli(['-H', daemon.host, 'rm', 'evc'], { env })).code).toBe(0);
    });
  });
});
