import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFile } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BUSYBOX_TAR, PROJECT_ROOT, runCli } from '../../support/cli.js';
import { isRoot, tempDir } from '../../support/tmp.js';

describe.runIf(isRoot)('tbuild completion', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let root: string;
  let script: string;
  let bin: string;

  beforeAll(async () => {
    tmp = await tempDir('tb-compl-');
    root = join(tmp.path, 'root');
    expect((await runCli(['load', '-i', BUSYBOX_TAR], { root })).code).toBe(0);
    const r = await runCli(['completion', 'bash']);
    expect(r.code, r.stderr).toBe(0);
    script = join(tmp.path, 'tbuild.bash');
    await writeFile(script, r.stdout);
    bin = join(tmp.path, 'bin');
    await mkdir(bin);
    // The script calls `tbuild __complete …` at TAB time: the one on PATH, here the source tree's.
    await writeFile(join(bin, 'tbuild'), `#!/bin/sh\nexec "${process.execPath}" --import tsx "${join(PROJECT_ROOT, 'src', 'cli.ts')}" "$@"\n`);
    await chmod(join(bin, 'tbuild'), 0o755);
  }, 120_000);
  afterAll(async () => {
    await tmp?.cleanup();
  });

  /** What bash offers for TAB after `words` (the last one being completed). */
  async function complete(...words: string[]): Promise<string[]> {
    const cmd = `source ${script}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _tbuild; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const { stdout } = await promisify(execFile)('bash', ['-c', cmd], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, TBUILD_ROOT: root, TBUILD_HOST: '' },
    });
    return stdout.split('\n').filter(Boolean).sort();
  }

  test('bash: commands, groups, flags and names from the store', async () => {
    expect(await complete('tbuild', 'bu')).toEqual(['build', 'builder', 'builds']);
    expect(await complete('tbuild', 'image', 'l')).toEqual(['load', 'ls']);
    expect(await complete('tbuild', 'build', '--ta')).toEqual(['--tag', '--target']);
    expect(await complete('tbuild', 'rmi', '')).toEqual(['busybox:local']);
    expect(await complete('tbuild', 'image', 'rm', 'busy')).toEqual(['busybox:local']);
    // the root the line names is where the names come from; one that does not exist offers none and is not made
    const empty = join(tmp.path, 'no-such-root');
    expect(await complete('tbuild', '--root', empty, 'rmi', '')).toEqual([]);
    expect(existsSync(empty)).toBe(false);
    expect(await complete('tbuild', `--root=${root}`, 'rmi', '')).toEqual(['busybox:local']);
  }, 120_000);

  test('bash: each operand completes what it names', async () => {
    expect((await runCli(['create', '--name', 'ctr1', '--network', 'none', 'busybox:local', 'true'], { root })).code).toBe(0);
    expect((await runCli(['network', 'create', 'net1'], { root })).code).toBe(0);
    try {
      expect(await complete('tbuild', 'tag', '')).toEqual(['busybox:local']);
      expect(await complete('tbuild', 'inspect', '')).toEqual(['busybox:local', 'ctr1']);
      expect(await complete('tbuild', 'push', 'bu')).toEqual(['busybox:local']);
      expect(await complete('tbuild', 'network', 'connect', '')).toEqual(['bridge', 'host', 'net1', 'none']);
      expect(await complete('tbuild', 'network', 'connect', 'net1', '')).toEqual(['ctr1']);
      expect(await complete('tbuild', 'network', 'rm', 'n')).toEqual(['net1', 'none']);
      // a flag's value is not an operand: the image comes after --name NAME
      expect(await complete('tbuild', 'run', '--name', 'x', 'bu')).toEqual(['busybox:local']);
      // the command after the image is the container's, not a name from the store
      expect(await complete('tbuild', 'run', 'busybox:local', 'bu')).toEqual([]);
      expect(await complete('tbuild', 'volume', 'create', '')).toEqual([]);
    } finally {
      await runCli(['rm', 'ctr1'], { root });
      await runCli(['network', 'rm', 'net1'], { root });
    }
  }, 120_000);

  test('bash in a terminal: TAB completes commands and names as a user sees it', async () => {
    const { spawnPty } = await import('../../support/pty.js');
    const sh = spawnPty(['bash', '--norc', '--noprofile', '-i'], {
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, TBUILD_ROOT: root, TBUILD_HOST: '', TERM: 'dumb' },
    });
    try {
      sh.type(`source ${script}; echo SOURCED\n`);
      await sh.waitFor(/\nSOURCED\r?\n/);
      // TAB completes "bu" as far as the choices agree, two more list them
      sh.type('tbuild bu\t');
      // (bash rings the bell, then types the rest: "bu", BEL, "ild")
      await sh.waitFor(/tbuild bu\x07?ild/, 20_000);
      sh.type('\t\t');
      await sh.waitFor(/build\s+builder\s+builds/, 20_000);
      sh.type('\x15'); // ^U: clear the line
      // one candidate: TAB completes it in place
      sh.type('tbuild rmi busy\t');
      await sh.waitFor(/tbuild rmi busy\x07?box:local/, 30_000);
      sh.type('\x15exit\n');
      expect(await sh.exited).toBe(0);
    } finally {
      sh.kill();
    }
  }, 120_000);

  test('zsh through bashcompinit, fish from the same tree, anything else refused', async () => {
    const zsh = await runCli(['completion', 'zsh']);
    expect(zsh.stdout).toMatch(/^#compdef tbuild\nautoload -U \+X bashcompinit && bashcompinit\n/);
    const fish = await runCli(['completion', 'fish']);
    expect(fish.stdout).toContain("complete -c tbuild -n '__fish_use_subcommand' -a '");
    expect(fish.stdout).toContain("complete -c tbuild -n '__fish_seen_subcommand_from rmi; and not __fish_seen_subcommand_from ");
    expect(fish.stdout).toMatch(/-n '__fish_seen_subcommand_from rm; and not __fish_seen_subcommand_from [^']*\bimage\b[^']*' -a '\(tbuild __complete containers 2>\/dev\/null\)'/);
    expect(fish.stdout).toContain("complete -c tbuild -n '__fish_seen_subcommand_from rm; and __fish_seen_subcommand_from image' -a '(tbuild __complete images 2>/dev/null)'");
    expect(fish.stdout).toContain("-l tag -d 'name and optionally a tag");
    const bad = await runCli(['completion', 'tcsh']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('unsupported shell "tcsh"');
  }, 120_000);
});
