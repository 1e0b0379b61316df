import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../../support/cli.js';
import { tempDir } from '../../support/tmp.js';

describe('tbuild check', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let n = 0;
  beforeAll(async () => {
    tmp = await tempDir('tb-check-');
  });
  afterAll(async () => {
    await tmp?.cleanup();
  });
  async function context(files: Record<string, string>): Promise<string> {
    const dir = join(tmp.path, `ctx${n++}`);
    for (const [name, content] of Object.entries(files)) {
      await mkdir(join(dir, name, '..'), { recursive: true });
      await writeFile(join(dir, name), content);
    }
    return dir;
  }
  const root = () => join(tmp.path, 'root');

  test('a clean Dockerfile', async () => {
    const dir = await context({ Dockerfile: 'FROM scratch\nCOPY a /a\nCMD ["/a"]\n', a: 'x' });
    const r = await runCli(['check', dir], { root: root() });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('Check complete, no warnings found.\n');
  });

  test('warnings are printed with line, URL and snippet; exit 0', async () => {
    const dir = await context({ Dockerfile: 'FROM scratch\nCOPY a /a\nCMD /a\n', a: 'x', '.dockerignore': 'a\n' });
    const r = await runCli(['check', dir], { root: root() });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      'WARNING: JSONArgsRecommended - JSON arguments recommended for CMD to prevent unintended behavior related to OS signals (line 3)\n  https://docs.docker.com/go/dockerfile/rule/json-args-recommended/\nDockerfile:3\n',
    );
    expect(r.stdout).toContain('WARNING: CopyIgnoredFile - Attempting to Copy file "a" that is excluded by .dockerignore (line 2)');
    expect(r.stdout).toContain(' 3 | >>> CMD /a');
    expect(r.stdout).toMatch(/Check complete, 2 warnings have been found!\n$/);
  });

  test('check=error=true fails with the rules named; json format', async () => {
    const dir = await context({ 'build/app.Dockerfile': '# check=error=true\nFROM scratch AS Bad\n', 'build/app.Dockerfile.dockerignore': '' });
    const r = await runCli(['check', '-f', join(dir, 'build/app.Dockerfile'), dir], { root: root() });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('ERROR: lint violation found for rules: StageNameCasing');
    const j = await runCli(['check', '--format', 'json', '-f', join(dir, 'build/app.Dockerfile'), dir], { root: root() });
    expect(j.code).toBe(1);
    const out = JSON.parse(j.stdout) as { warnings: Array<{ ruleName: string; detail: string; location: { ranges: Array<{ start: { line: number } }> } }>; error: string };
    expect(out.warnings.map((w) => [w.ruleName, w.detail, w.location.ranges[0]!.start.line])).toEqual([
      ['StageNameCasing', "Stage name 'Bad' should be lowercase", 2],
    ]);
    expect(out.error).toBe('lint violation found for rules: StageNameCasing');
  });

  test('--build-arg feeds the checks (BUILDKIT_DOCKERFILE_CHECK, FROM args)', async () => {
    const dir = await context({ Dockerfile: '# check=error=true\nFROM scratch\nCMD run\n' });
    const r = await runCli(['check', '--build-arg', 'BUILDKIT_DOCKERFILE_CHECK=skip=JSONArgsRecommended', dir], { root: root() });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('Check complete, no warnings found.\n');
  });

  test('parse errors exit non-zero with a coded message', async () => {
    const dir = await context({ Dockerfile: 'FROM scratch\nBADCMD x\n' });
    const r = await runCli(['check', dir], { root: root() });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('unknown instruction: BADCMD');
    const bad = await runCli(['check', '--format', 'xml', dir], { root: root() });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('unknown --format');
  });
});
