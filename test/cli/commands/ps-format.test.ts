import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BUSYBOX_TAR, runCli } from '../../support/cli.js';
import { isRoot, tempDir } from '../../support/tmp.js';

describe.runIf(isRoot)('ps and volume ls: --format, --filter, -n/-l/-s, and psFormat from config.json', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let root: string;
  const env = { TBUILD_HOST: '' };

  beforeAll(async () => {
    tmp = await tempDir('tb-ps-');
    root = join(tmp.path, 'root');
    expect((await runCli(['load', '-i', BUSYBOX_TAR], { root })).code).toBe(0);
    for (const [name, code] of [['first', '0'], ['second', '3']] as const) {
      expect((await runCli(['run', '--name', name, '--label', `tier=${name}`, '--network', 'none', 'busybox:local', 'sh', '-c', `exit ${code}`], { root, env })).code).toBe(Number(code));
    }
  }, 120_000);
  afterAll(async () => {
    await runCli(['rm', '-f', 'first', 'second'], { root, env });
    await tmp?.cleanup();
  });

  test('templates, table headers, filters and the latest ones', async () => {
    const ps = (...args: string[]) => runCli(['ps', ...args], { root, env });
    expect((await ps('-a', '--format', '{{.Names}} {{.State}} {{.Label "tier"}}')).stdout).toBe('second exited second\nfirst exited first\n');
    expect((await ps('-a', '--format', 'table {{.Names}}\\t{{.Status}}')).stdout).toMatch(/^NAMES +STATUS\nsecond +Exited \(3\) .* ago\nfirst +Exited \(0\) /);
    expect((await ps('-a', '--filter', 'exited=3', '--format', '{{.Names}}')).stdout).toBe('second\n');
    expect((await ps('-a', '--filter', 'label=tier=first', '--format', '{{.Names}}')).stdout).toBe('first\n');
    expect((await ps('-a', '--filter', 'name=sec', '-q')).stdout).toMatch(/^[0-9a-f]{12}\n$/);
    expect((await ps('-l', '--format', '{{.Names}}')).stdout).toBe('second\n');
    expect((await ps('-n', '2', '--format', '{{json .Names}}')).stdout).toBe('"second"\n"first"\n');
    expect((await ps('-a', '-s')).stdout.split('\n')[0]).toMatch(/ SIZE$/);
    const json = JSON.parse((await ps('-a', '-n', '1', '--format', 'json')).stdout) as Record<string, unknown>;
    expect(json).toMatchObject({ Names: 'second', State: 'exited', Labels: 'tier=second' });
    // the values of one filter are alternatives, different filters must all hold (Docker's rule)
    expect((await ps('-a', '-f', 'name=first', '-f', 'name=second', '--format', '{{.Names}}')).stdout).toBe('second\nfirst\n');
    expect((await ps('-f', 'status=exited', '-f', 'status=running', '-f', 'name=first', '--format', '{{.Names}}')).stdout).toBe('first\n');
    expect((await ps('-a', '-f', 'health=healthy', '-q')).stdout).toBe('');
    const bad = await ps('--filter', 'size=1');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("invalid filter 'size'");
    expect((await ps('--filter', 'health=fine')).stderr).toContain("invalid filter 'health=fine'");
  }, 120_000);

  test('psFormat and imagesFormat from the Docker CLI config', async () => {
    const dockerConfig = join(tmp.path, 'docker');
    await mkdir(dockerConfig);
    await writeFile(join(dockerConfig, 'config.json'), JSON.stringify({ psFormat: '{{.Names}}!', imagesFormat: '{{.Repository}}?' }));
    const withConfig = { ...env, DOCKER_CONFIG: dockerConfig };
    expect((await runCli(['ps', '-a'], { root, env: withConfig })).stdout).toBe('second!\nfirst!\n');
    expect((await runCli(['images'], { root, env: withConfig })).stdout).toBe('busybox?\n');
    // A flag still wins over the file.
    expect((await runCli(['ps', '-a', '--format', '{{.State}}'], { root, env: withConfig })).stdout).toBe('exited\nexited\n');
    // info says where the client's settings came from
    expect((await runCli(['info'], { root, env: withConfig })).stdout).toContain(`\n Client Config: ${join(dockerConfig, 'config.json')} ($DOCKER_CONFIG) (psFormat, imagesFormat)\n`);
  }, 120_000);

  test('volume ls: table, template, filters', async () => {
    for (const v of ['keep', 'other']) expect((await runCli(['volume', 'create', '--label', `role=${v}`, v], { root, env })).code).toBe(0);
    expect((await runCli(['volume', 'ls'], { root, env })).stdout).toBe('DRIVER    VOLUME NAME\nlocal     keep\nlocal     other\n');
    expect((await runCli(['volume', 'ls', '--filter', 'label=role=keep', '--format', '{{.Name}} {{.Labels}}'], { root, env })).stdout).toBe('keep role=keep\n');
    expect((await runCli(['volume', 'ls', '--filter', 'dangling=true', '-q'], { root, env })).stdout).toBe('keep\nother\n');
    expect((await runCli(['volume', 'ls', '-f', 'name=keep', '-f', 'name=other', '-q'], { root, env })).stdout).toBe('keep\nother\n');
    expect((await runCli(['volume', 'ls', '-f', 'label!=role=keep', '-q'], { root, env })).stdout).toBe('other\n');
    const bad = await runCli(['volume', 'ls', '--filter', 'size=1'], { root, env });
    expect(bad.stderr).toContain("invalid filter 'size'");
  }, 120_000);

  test('network ls: filters and templates', async () => {
    const ls = (...args: string[]) => runCli(['network', 'ls', ...args], { root, env });
    expect((await ls('--filter', 'type=builtin', '--format', '{{.Name}}')).stdout).toBe('bridge\nhost\nnone\n');
    expect((await ls('--filter', 'driver=null', '--format', '{{.Name}} {{.Driver}}')).stdout).toBe('none null\n');
    expect((await ls('--filter', 'type=custom', '-q')).stdout).toBe('');
    expect((await ls('-f', 'name=none', '-f', 'name=host', '--format', '{{.Name}}')).stdout).toBe('host\nnone\n');
    // the predefined networks are never dangling
    expect((await ls('--filter', 'dangling=true', '-q')).stdout).toBe('');
    expect((await ls('--format', '{{.Name}}:{{.Label "x"}}', '-f', 'name=bridge')).stdout).toBe('bridge:\n');
    // {{json .}} is Docker's row, not the inspect object
    const row = JSON.parse((await ls('--format', '{{json .}}', '-f', 'name=none')).stdout) as Record<string, unknown>;
    expect(Object.keys(row).sort()).toEqual(['CreatedAt', 'Driver', 'ID', 'IPv6', 'Internal', 'Labels', 'Name', 'Scope']);
    expect((await ls('--format', '{{.Name}}')).stdout).toBe('bridge\nhost\nnone\n');
    const bad = await ls('--filter', 'size=1');
    expect(bad.stderr).toContain("invalid filter 'size'");
  }, 60_000);
});
