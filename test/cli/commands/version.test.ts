import { afterEach, beforeEach, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { SERVER_VERSION } from '../../../src/api/wire/version.js';
import { join } from 'node:path';
import { PROJECT_ROOT, runCli } from '../../support/cli.js';
import { tempDir } from '../../support/tmp.js';
import { TBUILD_VERSION } from '../../../src/defaults.js';

let tmp: { path: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  tmp = await tempDir('tb-ver-');
});
afterEach(async () => {
  await tmp.cleanup();
});

test('--version and version name the package version; version -f json has client and server', async () => {
  const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };
  expect(TBUILD_VERSION).toBe(pkg.version);
  for (const flag of ['--version', '-v']) {
    const r = await runCli([flag]);
    expect(r).toMatchObject({ code: 0, stdout: `tbuild version ${pkg.version}, node ${process.versions.node}\n` });
  }
  const root = join(tmp.path, 'root');
  const v = await runCli(['version', '--format', 'json'], { root });
  expect(v.code).toBe(0);
  expect(JSON.parse(v.stdout)).toMatchObject({
    Client: { Version: pkg.version, ApiVersion: '1.47', Os: 'linux' },
    Server: { Where: `embedded (root ${root})`, Version: SERVER_VERSION, MinAPIVersion: '1.24' },
  });
  // the components as `docker version` lists them: the engine, tbuild, and runc as `runc --version` says
  const runc = /version (\S+)/.exec(execFileSync('runc', ['--version']).toString())![1];
  expect((JSON.parse(v.stdout) as { Server: { Components: unknown[] } }).Server.Components).toEqual([
    expect.objectContaining({ Name: 'Engine', Version: SERVER_VERSION }),
    expect.objectContaining({ Name: 'tbuild', Version: pkg.version }),
    expect.objectContaining({ Name: 'runc', Version: runc }),
  ]);
  const table = await runCli(['version'], { root });
  expect(table.stdout).toMatch(/^Client:\n Version: +\S+\n/);
  expect(table.stdout).toContain(`\nServer: embedded (root ${root})\n Engine:\n  Version:          ${SERVER_VERSION}\n`);
  expect(table.stdout).toContain(`\n tbuild:\n  Version:          ${pkg.version}\n runc:\n  Version:          ${runc}\n`);
  const templated = await runCli(['version', '--format', '{{.Client.Version}} {{.Server.Os}}'], { root });
  expect(templated).toMatchObject({ code: 0, stdout: `${pkg.version} linux\n` });
  const bad = await runCli(['version', '--format', '{{.Client.Version'], { root });
  expect(bad.code).not.toBe(0);
  expect(bad.stderr).toContain('unclosed action');
});
