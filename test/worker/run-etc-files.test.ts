import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isRoot, mountsUnder, tempDir } from '../support/tmp.js';
import { BUSYBOX_TAR, runCli } from '../support/cli.js';

/**
 * RUN steps see BuildKit's /etc/hosts (so `hostname --fqdn` gives `localhost`, as package scripts
 * that write /etc/mailname expect); containers see Docker's, with their own name on its own line.
 */
describe.runIf(isRoot)('RUN steps get BuildKit’s /etc files, containers Docker’s', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let root: string;

  beforeAll(async () => {
    tmp = await tempDir('tb-etc-');
    root = join(tmp.path, 'root');
    expect((await runCli(['load', '-i', BUSYBOX_TAR], { root })).code).toBe(0);
  }, 60_000);

  afterAll(async () => {
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  }, 60_000);

  test('build: exactly BuildKit’s two hosts lines and hostname buildkitsandbox', async () => {
    const ctx = join(tmp.path, 'ctx');
    await mkdir(ctx);
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:local\nRUN cat /etc/hosts > /hosts && hostname > /hn && hostname -f > /fqdn\n');
    const out = join(tmp.path, 'out');
    const r = await runCli(['build', '--network', 'none', '-o', `type=local,dest=${out}`, ctx], { root });
    expect(r.code, r.stderr).toBe(0);
    const { readFile } = await import('node:fs/promises');
    expect(await readFile(join(out, 'hosts'), 'utf8')).toBe('127.0.0.1\tlocalhost buildkitsandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n');
    expect(await readFile(join(out, 'hn'), 'utf8')).toBe('buildkitsandbox\n');
    expect(await readFile(join(out, 'fqdn'), 'utf8')).toBe('localhost\n');
  }, 180_000);

  test('run: Docker’s hosts file with the container’s hostname on its own line', async () => {
    const r = await runCli(['run', '--rm', '--network', 'none', '--hostname', 'box1', 'busybox:local', 'cat', '/etc/hosts'], { root });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('127.0.0.1\tlocalhost\n');
    expect(r.stdout).toMatch(/\n\S+\tbox1\n$/);
  }, 120_000);
});
